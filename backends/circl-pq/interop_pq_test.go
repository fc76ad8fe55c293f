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

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// Interop of ML-DSA certificates with Node 24 (OpenSSL 3.5), both
// directions with mutual authentication, and of post-handshake client
// authentication with OpenSSL 3.0's s_server.

// lineReader delivers a process's output lines on a channel.
func lineReader(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			ch <- s.Text()
		}
		close(ch)
	}()
	return ch
}

// waitLine returns the first line for which match is true.
func waitLine(t *testing.T, lines <-chan string, match func(string) bool, what string, stderr *strings.Builder) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s: output ended; saw %q; stderr: %s", what, seen, stderr)
			}
			if match(l) {
				return l
			}
			seen = append(seen, l)
		case <-timeout:
			t.Fatalf("%s: timed out; saw %q; stderr: %s", what, seen, stderr)
		}
	}
}

func writeFiles(t *testing.T, files map[string][]byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for name, data := range files {
		path := filepath.Join(dir, name+".pem")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out[name] = path
	}
	return out
}

// TestNodeMLDSA authenticates both sides with ML-DSA certificates against
// Node 24 with OpenSSL 3.5, each parameter set, both directions.
func TestNodeMLDSA(t *testing.T) {
	node := nodePath(t)
	m := mldsaTestPKI(t)
	script, err := filepath.Abs("testdata/mldsa_peer.js")
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range mldsaKeyTypes {
		scheme := []uint16{MLDSA44, MLDSA65, MLDSA87}[i]
		root, srv, cli := m.roots[k], m.servers[k], m.clients[k]
		files := writeFiles(t, map[string][]byte{
			"ca": root.CertPEM(), "cert": srv.ChainPEM(), "key": srv.KeyPEM(),
			"clientcert": cli.ChainPEM(), "clientkey": cli.KeyPEM(),
		})
		t.Run(k.String()+"/engine-client", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, script, "server", files["cert"], files["key"], files["ca"])
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdin, _ := cmd.StdinPipe()
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			lines := lineReader(out)
			port := waitLine(t, lines, func(string) bool { return true }, "node server start", &stderr)
			conn, err := dialLoopback(port)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var requested []uint16
			cfg := &backends.ClientConfig{ServerName: "a.test", RootCAs: poolOf(root),
				ClientIdentity: func(_ context.Context, r *backends.IdentityRequest) ([]*backends.Identity, error) {
					requested = r.SignatureSchemes
					return []*backends.Identity{cli.Identity()}, nil
				}}
			c, hs := engineClient(t, conn, cfg)
			if err := hs(); err != nil {
				t.Fatalf("handshake with Node: %v; node stderr: %s", err, stderr.String())
			}
			if !contains(requested, scheme) {
				t.Errorf("Node's CertificateRequest offers %x, not %#04x", requested, scheme)
			}
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("echo = %q, %v; node stderr: %s", buf, err, stderr.String())
			}
			line := waitLine(t, lines, func(l string) bool { return strings.HasPrefix(l, "OK") || strings.HasPrefix(l, "ERR") }, "node verdict", &stderr)
			if line != "OK client "+k.String() {
				t.Errorf("Node server: %q", line)
			}
			c.Close()
		})
		t.Run(k.String()+"/node-client", func(t *testing.T) {
			ln, err := listenLoopback()
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			_, port, _ := strings.Cut(ln.Addr().String(), ":")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, script, "client", port, files["ca"], files["clientcert"], files["clientkey"])
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
			conn, err := ln.Accept()
			if err != nil {
				cmd.Wait()
				t.Fatalf("accept: %v; node: %s %s", err, stdout.String(), stderr.String())
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			id, err := ParseIdentity(srv.KeyPEM(), [][]byte{srv.ChainPEM()})
			if err != nil {
				t.Fatal(err)
			}
			var clientChain [][]byte
			cfg := &backends.ServerConfig{Identities: []*backends.Identity{id}, ClientAuth: backends.RequireClientCert,
				ClientCAs: poolOf(root), VerifyClient: func(_ context.Context, chain [][]byte) error {
					clientChain = chain
					return nil
				}}
			cfg.ClientHello = func(_ context.Context, h *backends.ClientHello) (*backends.ServerConfig, error) {
				if !contains(h.SignatureSchemes, scheme) {
					t.Errorf("Node's ClientHello offers %x, not %#04x", h.SignatureSchemes, scheme)
				}
				return nil, nil
			}
			s, hs := engineServer(t, conn, cfg)
			if err := hs(); err != nil {
				cmd.Wait()
				t.Fatalf("handshake with Node: %v; node: %s %s", err, stdout.String(), stderr.String())
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("read %q, %v", buf, err)
			}
			if _, err := s.Write(buf); err != nil {
				t.Fatal(err)
			}
			// Node ends with close_notify once it has its echo.
			if n, err := s.Read(buf); n != 0 || err != io.EOF {
				t.Errorf("after Node's close_notify: Read = %d, %v; want io.EOF", n, err)
			}
			s.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("node client: %v; %s %s", err, stdout.String(), stderr.String())
			}
			if got := strings.TrimSpace(stdout.String()); got != "OK a.test" {
				t.Errorf("Node client: %q; stderr: %s", got, stderr.String())
			}
			if len(clientChain) == 0 {
				t.Errorf("VerifyClient did not see Node's ML-DSA client chain")
			}
			s.Close()
		})
	}
	// Hybrid: an ECDSA leaf under ML-DSA CAs served by Node (its chain
	// carries the ML-DSA root, which a CertPool cannot hand out), and an
	// ML-DSA leaf under ECDSA CAs.
	for _, tc := range []struct {
		name string
		leaf *testpki.Leaf
		root *testpki.CA
	}{
		{"ECDSALeafUnderMLDSARoot", m.ecUnderPQ, m.ecUnderPQRoot},
		{"MLDSALeafUnderECDSARoot", m.pqUnderEC, m.ecRoot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := writeFiles(t, map[string][]byte{"ca": tc.root.CertPEM(), "cert": tc.leaf.ChainPEM(), "key": tc.leaf.KeyPEM()})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, script, "server", files["cert"], files["key"], files["ca"])
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdin, _ := cmd.StdinPipe()
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			lines := lineReader(out)
			port := waitLine(t, lines, func(string) bool { return true }, "node server start", &stderr)
			conn, err := dialLoopback(port)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			cfg := &backends.ClientConfig{ServerName: "a.test", RootCAs: poolOf(tc.root),
				ClientIdentity: func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
					return []*backends.Identity{tc.leaf.Identity()}, nil
				}}
			c, hs := engineClient(t, conn, cfg)
			if err := hs(); err != nil {
				t.Fatalf("handshake with Node: %v; node stderr: %s", err, stderr.String())
			}
			echoNode(t, c, &stderr)
			line := waitLine(t, lines, func(l string) bool { return strings.HasPrefix(l, "OK") || strings.HasPrefix(l, "ERR") }, "node verdict", &stderr)
			if !strings.HasPrefix(line, "OK ") {
				t.Errorf("Node server: %q", line)
			}
			c.Close()
		})
	}
}

func echoNode(t *testing.T, c *Conn, stderr *strings.Builder) {
	t.Helper()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v; node stderr: %s", buf, err, stderr.String())
	}
}

// TestOpenSSLPostHandshakeAuth has OpenSSL 3.0's s_server request the
// engine client's certificate after the handshake: the line "c" on
// s_server's standard input makes it call SSL_verify_client_post_handshake,
// and -verify_return_error makes a failed verification fatal. Nothing is
// requested during the handshake.
func TestOpenSSLPostHandshakeAuth(t *testing.T) {
	openssl := opensslPath(t)
	p := pki(t)
	f := opensslFiles(t, p)
	for _, tc := range []struct {
		name string
		id   *backends.Identity
	}{
		{"ECDSA", p.client.Identity()},
		{"Ed25519", p.clientEd.Identity()},
		// s_server without -Verify accepts an empty answer.
		{"Declined", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
				"-cert", f["cert"], "-key", f["key"], "-CAfile", f["ca"], "-verify_return_error")
			// s_server reports verification on stderr and the rest on
			// stdout: both go to one stream of lines.
			var stderr strings.Builder
			out, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, cmd.Stderr = w, w
			stdin, _ := cmd.StdinPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			defer out.Close()
			defer cmd.Wait()
			defer cancel()
			defer stdin.Close()
			lines := lineReader(out)
			accept := waitLine(t, lines, func(l string) bool { return strings.HasPrefix(l, "ACCEPT ") }, "s_server start", &stderr)
			_, port, _ := strings.Cut(strings.TrimPrefix(accept, "ACCEPT "), ":")

			var req *backends.IdentityRequest
			asked := make(chan struct{})
			conn, err := dialLoopback(port)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			cfg := p.clientConfig()
			cfg.ServerName = "localhost"
			cfg.ClientIdentity = func(_ context.Context, r *backends.IdentityRequest) ([]*backends.Identity, error) {
				req = r
				close(asked)
				if tc.id == nil {
					return nil, nil
				}
				return []*backends.Identity{tc.id}, nil
			}
			c, hs := engineClient(t, conn, cfg)
			if err := hs(); err != nil {
				t.Fatalf("handshake with s_server: %v; stderr: %s", err, stderr.String())
			}
			received := make(chan string, 1)
			readErr := make(chan error, 1)
			go func() {
				r := bufio.NewReader(c)
				line, err := r.ReadString('\n')
				if err != nil {
					readErr <- err
					return
				}
				received <- line
			}()
			io.WriteString(stdin, "c\n")
			select {
			case <-asked:
			case err := <-readErr:
				t.Fatalf("client Read: %v; s_server: %s", err, stderr.String())
			case <-time.After(20 * time.Second):
				t.Fatal("s_server sent no post-handshake CertificateRequest")
			}
			if tc.id != nil {
				waitLine(t, lines, func(l string) bool { return strings.HasPrefix(l, "depth=0") && strings.Contains(l, "client") }, "s_server verification of the client", &stderr)
			}
			io.WriteString(stdin, "hello\n")
			select {
			case line := <-received:
				if line != "hello\n" {
					t.Errorf("client read %q", line)
				}
			case err := <-readErr:
				t.Fatalf("client Read: %v; stderr: %s", err, stderr.String())
			case <-time.After(20 * time.Second):
				t.Fatalf("nothing from s_server after the post-handshake exchange; stderr: %s", stderr.String())
			}
			if req == nil || !req.PostHandshake {
				t.Errorf("ClientIdentity request = %+v; want PostHandshake", req)
			}
			if got := c.State().LocalIdentity; got != tc.id {
				t.Errorf("LocalIdentity not the identity sent after the handshake")
			}
			c.Close()
		})
	}
}
