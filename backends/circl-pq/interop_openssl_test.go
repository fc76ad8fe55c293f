package circlpq

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// The OpenSSL 3.0 command line (s_server, s_client) is a classical TLS
// 1.2/1.3 peer: no ML-KEM, but client certificates, ALPN and SNI.

func opensslPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		requirePeer(t, "the openssl command", "install the Debian package openssl")
	}
	return path
}

// opensslFiles writes PEM files for the OpenSSL peer: the root, the server
// identity, and the client identity.
func opensslFiles(t *testing.T, p *testCerts) map[string]string {
	dir := t.TempDir()
	files := map[string][]byte{
		"ca":         p.root.CertPEM(),
		"cert":       p.p256.ChainPEM(),
		"key":        p.p256.KeyPEM(),
		"clientcert": p.client.ChainPEM(),
		"clientkey":  p.client.KeyPEM(),
	}
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

// startSServer starts openssl s_server in -rev mode (it answers each line
// reversed) and returns its port.
func startSServer(t *testing.T, openssl string, args ...string) (port string, stderr *strings.Builder) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cmd := exec.CommandContext(ctx, openssl, append([]string{"s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-rev"}, args...)...)
	stderr = new(strings.Builder)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("s_server did not start: %v; stderr: %s", err, stderr)
		}
		if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ACCEPT "); ok {
			_, port, _ = strings.Cut(addr, ":")
			go io.Copy(io.Discard, r)
			return port, stderr
		}
	}
}

func TestOpenSSLInterop(t *testing.T) {
	openssl := opensslPath(t)
	p := pki(t)
	f := opensslFiles(t, p)
	for _, g := range []struct {
		id   uint16
		name string
	}{{X25519, "X25519"}, {P256, "P-256"}, {P384, "P-384"}} {
		t.Run(g.name, func(t *testing.T) {
			t.Run("engine-client", func(t *testing.T) {
				port, stderr := startSServer(t, openssl, "-cert", f["cert"], "-key", f["key"], "-groups", g.name)
				c := dialEngine(t, port, func(cfg *backends.ClientConfig) {
					// The first share is refused: this also runs a hello-retry.
					cfg.Groups = []uint16{X25519MLKEM768, g.id}
				}, stderr)
				if c.State().Group != g.id || !c.didHRR {
					t.Errorf("group %s, hello retry %v", groupName(c.State().Group), c.didHRR)
				}
				revEcho(t, c, stderr)
			})
			t.Run("s_client", func(t *testing.T) {
				out := sClientCase(t, openssl, f, []string{"-groups", g.name}, func(*backends.ServerConfig) {}, g.id)
				if !strings.Contains(out, "pong") {
					t.Errorf("s_client output lacks the answer: %s", out)
				}
			})
		})
	}
	t.Run("mTLS+ALPN", func(t *testing.T) {
		t.Run("engine-client", func(t *testing.T) {
			port, stderr := startSServer(t, openssl, "-cert", f["cert"], "-key", f["key"],
				"-Verify", "1", "-verify_return_error", "-CAfile", f["ca"], "-alpn", "h2,http/1.1")
			c := dialEngine(t, port, func(cfg *backends.ClientConfig) {
				cfg.ALPN = []string{"http/1.1"}
				cfg.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
					return []*backends.Identity{p.client.Identity()}, nil
				}
			}, stderr)
			if c.State().ALPN != "http/1.1" || c.State().LocalIdentity == nil {
				t.Errorf("ALPN %q, local identity %v", c.State().ALPN, c.State().LocalIdentity)
			}
			revEcho(t, c, stderr)
		})
		t.Run("s_client", func(t *testing.T) {
			var seen [][]byte
			sClientCase(t, openssl, f, []string{"-cert", f["clientcert"], "-key", f["clientkey"], "-alpn", "http/1.1"},
				func(cfg *backends.ServerConfig) {
					cfg.ClientAuth = backends.RequireClientCert
					cfg.ALPN = []string{"h2", "http/1.1"}
					cfg.VerifyClient = func(_ context.Context, chain [][]byte) error { seen = chain; return nil }
				}, X25519)
			if len(seen) == 0 {
				t.Error("VerifyClient did not see the client chain")
			}
		})
	})
	t.Run("TLS1.2-only", func(t *testing.T) {
		t.Run("engine-client", func(t *testing.T) {
			port, stderr := startSServer(t, openssl, "-cert", f["cert"], "-key", f["key"], "-tls1_2")
			conn, err := dialLoopback(port)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c, hs := engineClient(t, conn, p.clientConfig())
			err = hs()
			// s_server -tls1_2 is configured as a TLS 1.2 server, so its
			// ServerHello carries no downgrade sentinel: protocol_version.
			if a, ok := errorAlert(err); !ok || a != alertProtocolVersion {
				t.Fatalf("handshake error = %v; want a protocol_version alert; stderr: %s", err, stderr)
			}
			if c.State().HandshakeComplete {
				t.Error("handshake reported complete")
			}
		})
		t.Run("s_client", func(t *testing.T) {
			ln, err := listenLoopback()
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			_, port, _ := strings.Cut(ln.Addr().String(), ":")
			cmd := exec.Command(openssl, "s_client", "-connect", "127.0.0.1:"+port, "-tls1_2")
			cmd.Stdin = strings.NewReader("")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			conn := acceptWithDeadline(t, ln)
			defer conn.Close()
			_, hs := engineServer(t, conn, p.serverConfig(p.p256))
			err = hs()
			if a, ok := errorAlert(err); !ok || a != alertProtocolVersion {
				t.Errorf("server error = %v; want protocol_version", err)
			}
			conn.Close()
			cmd.Wait()
			if !strings.Contains(out.String(), "protocol version") {
				t.Errorf("s_client did not report the protocol_version alert: %s", out.String())
			}
		})
	})
}

func acceptWithDeadline(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	return conn
}

func dialEngine(t *testing.T, port string, configure func(*backends.ClientConfig), stderr *strings.Builder) *Conn {
	t.Helper()
	conn, err := dialLoopback(port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg := pki(t).clientConfig()
	configure(cfg)
	c, hs := engineClient(t, conn, cfg)
	if err := hs(); err != nil {
		t.Fatalf("handshake with s_server: %v; stderr: %s", err, stderr)
	}
	return c
}

// revEcho sends a line to s_server -rev and expects it back reversed.
func revEcho(t *testing.T, c *Conn, stderr *strings.Builder) {
	t.Helper()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "gnip\n" {
		t.Fatalf("s_server answered %q, %v; stderr: %s", buf, err, stderr)
	}
	c.Close()
}

// sClientCase runs openssl s_client against an engine server that answers
// "ping" with "pong" and closes with close_notify.
func sClientCase(t *testing.T, openssl string, f map[string]string, args []string, configure func(*backends.ServerConfig), want uint16) string {
	t.Helper()
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := strings.Cut(ln.Addr().String(), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, append([]string{"s_client", "-connect", "127.0.0.1:" + port,
		"-servername", "a.test", "-CAfile", f["ca"], "-verify_return_error", "-tls1_3", "-quiet"}, args...)...)
	pr, pw := io.Pipe()
	defer pw.Close()
	cmd.Stdin = pr
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	conn := acceptWithDeadline(t, ln)
	defer conn.Close()
	cfg := pki(t).serverConfig(pki(t).p256)
	configure(cfg)
	s, hs := engineServer(t, conn, cfg)
	if err := hs(); err != nil {
		cancel()
		cmd.Wait()
		t.Fatalf("handshake with s_client: %v; output: %s", err, out.String())
	}
	if got := s.State().Group; got != want {
		t.Errorf("group %s; want %s", groupName(got), groupName(want))
	}
	pw.Write([]byte("ping\n"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("engine read %q, %v; output: %s", buf, err, out.String())
	}
	pw.Close() // s_client -quiet ignores the end of its input
	if _, err := s.Write([]byte("pong\n")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := cmd.Wait(); err != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// s_client exits non-zero on some closes; its output is checked.
		t.Logf("s_client: %v", err)
	}
	return out.String()
}
