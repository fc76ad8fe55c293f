package stdtls_test

import (
	"bufio"
	"bytes"
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
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testpeer"
	"github.com/wasitls/wasitls/internal/testpki"
)

// interopPKI is a root with leaves for a.test, b.test and a client, written
// to files for the openssl command line.
type interopPKI struct {
	ca                *testpki.CA
	a, b, client      *testpki.Leaf
	dir               string
	caFile            string
	aCert, aKey       string
	bCert, bKey       string
	clientCert, clKey string
}

func newInteropPKI(t *testing.T) *interopPKI {
	t.Helper()
	p := &interopPKI{dir: t.TempDir()}
	var err error
	if p.ca, err = testpki.NewCA(); err != nil {
		t.Fatal(err)
	}
	issue := func(o testpki.LeafOptions) *testpki.Leaf {
		l, err := p.ca.Issue(o)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	p.a = issue(testpki.LeafOptions{DNSNames: []string{"a.test"}})
	p.b = issue(testpki.LeafOptions{DNSNames: []string{"b.test"}, Key: testpki.Ed25519})
	p.client = issue(testpki.LeafOptions{CommonName: "interop client", Usage: testpki.ClientAuth})
	write := func(name string, data []byte) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p.caFile = write("ca.pem", p.ca.CertPEM())
	p.aCert, p.aKey = write("a.pem", p.a.ChainPEM()), write("a.key", p.a.KeyPEM())
	p.bCert, p.bKey = write("b.pem", p.b.ChainPEM()), write("b.key", p.b.KeyPEM())
	p.clientCert, p.clKey = write("client.pem", p.client.ChainPEM()), write("client.key", p.client.KeyPEM())
	return p
}

// startSServer runs `openssl s_server` for one connection and returns its
// address and its output so far.
func startSServer(t *testing.T, openssl string, args ...string) (string, *syncbuf.Buffer) {
	t.Helper()
	args = append([]string{"s_server", "-accept", "127.0.0.1:0", "-naccept", "1"}, args...)
	cmd := exec.Command(openssl, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewReader(stdout)
	for {
		line, err := lines.ReadString('\n')
		out.Write([]byte(line))
		if err != nil {
			t.Fatalf("openssl s_server did not start: %v\n%s", err, out.String())
		}
		if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ACCEPT "); ok {
			go io.Copy(&out, lines)
			return addr, &out
		}
	}
}

func dialStdtls(t *testing.T, addr string, cc *backends.ClientConfig) (backends.Conn, error) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := stdtls.Backend{}.Client(raw, cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c, c.Handshake(ctx)
}

// TestOpenSSLServer drives stdtls as a client against `openssl s_server`:
// SNI selects the second certificate, ALPN, mutual authentication.
func TestOpenSSLServer(t *testing.T) {
	openssl := testpeer.OpenSSL.Path(t)
	p := newInteropPKI(t)
	serverArgs := []string{"-tls1_3", "-cert", p.aCert, "-key", p.aKey,
		"-servername", "b.test", "-cert2", p.bCert, "-key2", p.bKey,
		"-alpn", "h2", "-CAfile", p.caFile, "-Verify", "1", "-verify_return_error", "-rev"}
	withIdentity := func(cc *backends.ClientConfig) *backends.ClientConfig {
		cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
			return []*backends.Identity{p.client.Identity()}, nil
		}
		return cc
	}

	t.Run("SNI", func(t *testing.T) {
		addr, out := startSServer(t, openssl, serverArgs...)
		cc := withIdentity(&backends.ClientConfig{ServerName: "b.test", RootCAs: p.ca.Pool()})
		c, err := dialStdtls(t, addr, cc)
		if err != nil {
			t.Fatalf("handshake: %v\nopenssl:\n%s", err, out)
		}
		if st := c.State(); len(st.PeerChain) == 0 || !bytes.Equal(st.PeerChain[0], p.b.Chain[0]) {
			t.Errorf("s_server did not present the b.test certificate selected by SNI")
		}
	})

	// s_server sets ALPN on its first certificate's context only, so ALPN
	// is checked without the SNI switch.
	t.Run("ALPNClientCert", func(t *testing.T) {
		addr, out := startSServer(t, openssl, serverArgs...)
		cc := withIdentity(&backends.ClientConfig{ServerName: "a.test", RootCAs: p.ca.Pool(),
			Options: backends.Options{ALPN: []string{"h2", "http/1.1"}}})
		c, err := dialStdtls(t, addr, cc)
		if err != nil {
			t.Fatalf("handshake: %v\nopenssl:\n%s", err, out)
		}
		st := c.State()
		if st.ALPN != "h2" {
			t.Errorf("ALPN = %q, want h2", st.ALPN)
		}
		if st.LocalIdentity == nil {
			t.Errorf("no client identity sent")
		}
		if _, err := c.Write([]byte("hello\n")); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "olleh" {
			t.Fatalf("echo = %q, %v; want olleh\nopenssl:\n%s", line, err, out)
		}
	})

	t.Run("ClientCertMissing", func(t *testing.T) {
		addr, out := startSServer(t, openssl, serverArgs...)
		c, err := dialStdtls(t, addr, &backends.ClientConfig{ServerName: "a.test", RootCAs: p.ca.Pool()})
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
		if err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Errorf("error = %v; want a certificate_required alert\nopenssl:\n%s", err, out)
		}
	})

	t.Run("WrongHostname", func(t *testing.T) {
		addr, _ := startSServer(t, openssl, serverArgs...)
		_, err := dialStdtls(t, addr, &backends.ClientConfig{ServerName: "c.test", RootCAs: p.ca.Pool()})
		if err == nil || !strings.Contains(err.Error(), "c.test") {
			t.Errorf("error = %v; want a hostname mismatch naming c.test", err)
		}
	})
}

// TestOpenSSLClient drives stdtls as a server for `openssl s_client`.
func TestOpenSSLClient(t *testing.T) {
	openssl := testpeer.OpenSSL.Path(t)
	p := newInteropPKI(t)

	type result struct {
		state backends.State
		err   error
		got   string
	}
	serve := func(t *testing.T, sc *backends.ServerConfig) (string, <-chan result) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		ch := make(chan result, 1)
		go func() {
			var r result
			defer func() { ch <- r }()
			raw, err := ln.Accept()
			if err != nil {
				r.err = err
				return
			}
			raw.SetDeadline(time.Now().Add(10 * time.Second))
			c, err := stdtls.Backend{}.Server(raw, sc)
			if err != nil {
				r.err = err
				raw.Close()
				return
			}
			defer c.Close()
			if r.err = c.Handshake(context.Background()); r.err != nil {
				return
			}
			r.state = c.State()
			line, err := bufio.NewReader(c).ReadString('\n')
			if r.got, r.err = line, err; err != nil {
				return
			}
			if _, r.err = c.Write([]byte("world\n")); r.err != nil {
				return
			}
			r.err = c.CloseWrite()
		}()
		return ln.Addr().String(), ch
	}
	sClient := func(t *testing.T, addr string, args ...string) string {
		args = append([]string{"s_client", "-connect", addr, "-CAfile", p.caFile,
			"-verify_return_error", "-tls1_3", "-ign_eof"}, args...)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, args...)
		cmd.Stdin = strings.NewReader("hello\n")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	config := func() (*backends.ServerConfig, *string) {
		var sni string
		sc := &backends.ServerConfig{
			Identities: []*backends.Identity{p.a.Identity(), p.b.Identity()},
			Options:    backends.Options{ALPN: []string{"h2"}},
			ClientAuth: backends.RequireClientCert,
			ClientCAs:  p.ca.Pool(),
			ClientHello: func(_ context.Context, h *backends.ClientHello) (*backends.ServerConfig, error) {
				sni = h.ServerName
				return nil, nil
			},
		}
		return sc, &sni
	}

	t.Run("SNIALPNClientCert", func(t *testing.T) {
		sc, sni := config()
		addr, ch := serve(t, sc)
		out := sClient(t, addr, "-servername", "b.test", "-alpn", "h2", "-cert", p.clientCert, "-key", p.clKey)
		r := <-ch
		if r.err != nil {
			t.Fatalf("server: %v\nopenssl:\n%s", r.err, out)
		}
		if *sni != "b.test" || r.state.ServerName != "b.test" {
			t.Errorf("server saw SNI %q / %q, want b.test", *sni, r.state.ServerName)
		}
		if r.state.ALPN != "h2" || !strings.Contains(out, "ALPN protocol: h2") {
			t.Errorf("ALPN: server %q; openssl:\n%s", r.state.ALPN, out)
		}
		if len(r.state.PeerChain) == 0 || !bytes.Equal(r.state.PeerChain[0], p.client.Chain[0]) {
			t.Errorf("server did not receive the client certificate")
		}
		if r.state.LocalIdentity == nil || !bytes.Equal(r.state.LocalIdentity.Chain[0], p.b.Chain[0]) {
			t.Errorf("server did not present the b.test identity")
		}
		if r.got != "hello\n" || !strings.Contains(out, "world") || !strings.Contains(out, "Verify return code: 0 (ok)") {
			t.Errorf("exchange: server got %q; openssl:\n%s", r.got, out)
		}
	})

	t.Run("ClientCertMissing", func(t *testing.T) {
		sc, _ := config()
		addr, ch := serve(t, sc)
		out := sClient(t, addr, "-servername", "a.test")
		r := <-ch
		if r.err == nil || !strings.Contains(r.err.Error(), "certificate") {
			t.Errorf("server error = %v; want a missing client certificate\nopenssl:\n%s", r.err, out)
		}
	})

	t.Run("ALPNMismatch", func(t *testing.T) {
		sc, _ := config()
		addr, ch := serve(t, sc)
		out := sClient(t, addr, "-servername", "a.test", "-alpn", "x-other", "-cert", p.clientCert, "-key", p.clKey)
		r := <-ch
		if r.err == nil {
			t.Errorf("server accepted a client without a common ALPN protocol")
		}
		if !strings.Contains(out, "no application protocol") {
			t.Errorf("openssl did not report no_application_protocol:\n%s", out)
		}
	})
}
