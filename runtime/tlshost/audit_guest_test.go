package tlshost_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testpeer"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// Wasm-guest tests for rows of docs/tls.md that were backed only at
// session level: a guest/tls server (testdata/audit) against real peers.

const auditGuest = "./testdata/audit"

// auditExchange dials the audit guest with cfg, sends "ping\n" and returns
// the connection state, the answer and the first error met.
func auditExchange(t *testing.T, port string, cfg *tls.Config) (tls.ConnectionState, string, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp4", "127.0.0.1:"+port, cfg)
	if err != nil {
		return tls.ConnectionState{}, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	st := conn.ConnectionState()
	if _, err := io.WriteString(conn, "ping\n"); err != nil {
		return st, "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return st, line, err
}

// TestGuestServerRequireAnyClientCert: a guest/tls server with ClientAuth
// RequireAnyClientCert serves a Go client that presents a certificate
// (the guest sees its subject) and refuses one that presents none: the
// guest's handshake fails and the client's first read fails with the
// alert.
func TestGuestServerRequireAnyClientCert(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, auditGuest, nil, "server", "require-any", "2")
		port := g.port(t)
		with := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{p.client.TLSCertificate()}}
		if _, got, err := auditExchange(t, port, with); err != nil || got != "hello ping\n" {
			t.Fatalf("with a certificate: %q, %v", got, err)
		}
		without := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"}
		_, got, err := auditExchange(t, port, without)
		if err == nil {
			t.Fatalf("without a certificate: answered %q", got)
		}
		t.Logf("client without a certificate: %v", err)
		out, gerr := g.wait(t)
		if gerr != nil {
			t.Fatalf("%v\n%s", gerr, out)
		}
		mustContain(t, out, "client=guest client\n", "handshake failed: ")
		if strings.Count(out, "handshake ok:") != 1 {
			t.Errorf("want exactly one handshake accepted:\n%s", out)
		}
	})
}

// TestGuestServerNegotiatedGroup: server-negotiated-group, read by a
// guest/tls server (ConnectionState.CurveID), names the group a Go client
// negotiated: X25519MLKEM768 when the client offers only it, X25519 when
// the client offers only X25519, on both backends.
func TestGuestServerNegotiatedGroup(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, auditGuest, nil, "server", "none", "2")
		port := g.port(t)
		for _, c := range []struct {
			curve tls.CurveID
			want  string
		}{{tls.X25519MLKEM768, "group=0x11ec"}, {tls.X25519, "group=0x001d"}} {
			cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost", CurvePreferences: []tls.CurveID{c.curve}}
			st, got, err := auditExchange(t, port, cfg)
			if err != nil || got != "hello ping\n" {
				t.Fatalf("%v: %q, %v", c.curve, got, err)
			}
			if st.CurveID != c.curve {
				t.Errorf("the Go client negotiated %v, want %v", st.CurveID, c.curve)
			}
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		lines := strings.Split(out, "\n")
		var ok []string
		for _, l := range lines {
			if strings.HasPrefix(l, "handshake ok:") {
				ok = append(ok, l)
			}
		}
		if len(ok) != 2 || !strings.Contains(ok[0], "group=0x11ec") || !strings.Contains(ok[1], "group=0x001d") {
			t.Fatalf("guest's negotiated groups, want 0x11ec then 0x001d:\n%s", out)
		}
	})
}

// TestGuestServerPostHandshakeAuthOpenSSL: post-handshake client
// authentication against a peer other than our own client. openssl
// s_client with -enable_pha connects to a guest/tls server that asks for
// no certificate in the handshake, sends a line, and answers the guest's
// post-handshake CertificateRequest (RequestClientCertificate) with its
// certificate: on circl-pq the guest sees the client's subject; on stdtls
// the guest is told that crypto/tls cannot, and the connection carries on.
// The guest's Close then sends close_notify, which OpenSSL checks.
func TestGuestServerPostHandshakeAuthOpenSSL(t *testing.T) {
	openssl := testpeer.OpenSSL.Path(t)
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, auditGuest, nil, "server", "pha", "1")
		port := g.port(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", "127.0.0.1:"+port,
			"-servername", "localhost", "-tls1_3", "-enable_pha",
			"-cert", filepath.Join(p.dir, "client.pem"), "-key", filepath.Join(p.dir, "client.key"),
			"-CAfile", filepath.Join(p.dir, "ca.pem"), "-verify_return_error", "-ign_eof")
		cmd.Stdin = strings.NewReader("GET /secure\n")
		b, perr := cmd.CombinedOutput()
		pout := string(b)
		if perr != nil {
			t.Logf("openssl: %v", perr)
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "handshake ok:", "client=none\n")
		// The guest's Close sends close_notify (close-server-output):
		// OpenSSL prints "closed" for it, and "unexpected eof while
		// reading" for a connection closed without one.
		mustContain(t, pout, "hello GET /secure", "Verify return code: 0 (ok)", "\nclosed\n")
		if strings.Contains(pout, "unexpected eof") {
			t.Errorf("openssl saw the connection closed without close_notify:\n%s", pout)
		}
		switch backend {
		case "circl-pq":
			mustContain(t, out, "post-handshake authentication: client=guest client\n")
		case "stdtls":
			mustContain(t, out, "post-handshake authentication: failed: ", "not implemented by crypto/tls")
		default:
			mustContain(t, out, "post-handshake authentication: ")
		}
	})
}

// recordingPeer accepts one connection, never answers, and sends on the
// returned channel the TLS record types of everything it received until
// the guest's side closed the connection, or the read error after 10 s.
type recorded struct {
	types []byte
	err   error
}

func recordingPeer(t *testing.T) (string, <-chan recorded) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	types := make(chan recorded, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			types <- recorded{err: err}
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		var got []byte
		for len(b) >= 5 {
			n := int(b[3])<<8 | int(b[4])
			got = append(got, b[0])
			if len(b) < 5+n {
				break
			}
			b = b[5+n:]
		}
		types <- recorded{got, err}
	}()
	return ln.Addr().String(), types
}

// TestGuestAbortWaitingForPeer: what a peer receives when a guest gives up
// on a handshake while the backend waits for that peer (no step is
// suspended): a guest/tls client's DialContext times out against a server
// that received the ClientHello and never answers. Neither backend sends
// an alert then: the host cancels the backend and closes the transport, so
// the peer sees the ClientHello and then the connection closed. (An abort
// while a step is suspended does send the step's alert:
// TestGuestClientShowcaseCustomVerificationAborts,
// TestGuestServerRequireAnyClientCert.)
func TestGuestAbortWaitingForPeer(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		addr, types := recordingPeer(t)
		g := startGuest(t, backend, p, giveUpGuest, nil, "client", addr, "1s")
		g.waitOutput(t, 8*time.Second, `dial: .* after \S+\n`)
		var r recorded
		select {
		case r = <-types:
		case <-time.After(15 * time.Second):
			t.Fatal("the peer never returned")
		}
		if r.err != nil {
			t.Fatalf("the peer's connection was not closed: %v", r.err)
		}
		got := r.types
		t.Logf("record types received: % x", got)
		if len(got) == 0 || got[0] != 0x16 {
			t.Fatalf("record types % x; want a ClientHello (0x16) first", got)
		}
		for _, typ := range got[1:] {
			if typ == 0x15 {
				t.Errorf("record types % x: an alert (0x15) after the ClientHello", got)
			}
		}
	})
}

// TestGuestHostSkipsValidation: Node's authorized / authorizationError.
// With the host's validation on, a server certificate from a CA the host
// does not trust fails the guest's verify-server-identity step; with tlshost.Config.InsecureSkipVerify (wasitls run
// --insecure-skip-verify) the same handshake succeeds and the guest sees
// the unverified certificate as server-identity, exactly as it would see a
// validated one: no call tells a guest that the host skipped validation.
func TestGuestHostSkipsValidation(t *testing.T) {
	p := newGuestPKI(t)
	other, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := other.Issue(testpki.LeafOptions{CommonName: "untrusted server"})
	if err != nil {
		t.Fatal(err)
	}
	eachBackend(t, func(t *testing.T, backend string) {
		port, _ := goHTTPS(t, p, func(c *tls.Config) { c.Certificates = []tls.Certificate{unknown.TLSCertificate()} })
		args := []string{"localhost", port, "/certs/client.key", "/certs/client.pem"}
		const showcase = "github.com/wasitls/wasitls/examples/client-showcase"
		out, err := startGuestWith(t, tlshost.Config{BackendName: backend}, p, showcase, nil, args...).wait(t)
		if err == nil {
			t.Fatalf("validating host: the guest's handshake succeeded:\n%s", out)
		}
		mustContain(t, out, "the server's certificate did not pass validation")
		out, err = startGuestWith(t, tlshost.Config{BackendName: backend, InsecureSkipVerify: true}, p, showcase, nil, args...).wait(t)
		if err != nil {
			t.Fatalf("host with InsecureSkipVerify: %v\n%s", err, out)
		}
		mustContain(t, out, `server-identity: "untrusted server"`, "protocol-version: ")
	})
}

// TestGuestParseEncryptedKey: Node's passphrase and pfx. An encrypted
// private key (PEM with Proc-Type 4,ENCRYPTED, and PKCS#8 ENCRYPTED
// PRIVATE KEY) and a PKCS#12 file are refused by every backend, and the
// guest's parse (guest/tls ParseIdentity, extensions
// parse-private-identity) returns the backend's reason.
func TestGuestParseEncryptedKey(t *testing.T) {
	openssl := testpeer.OpenSSL.Path(t)
	p := newGuestPKI(t)
	block, _ := pem.Decode(p.local.KeyPEM())
	// A legacy encrypted PEM key is what is tested: EncryptPEMBlock is
	// deprecated for exactly that format.
	enc, err := x509.EncryptPEMBlock(rand.Reader, block.Type, block.Bytes, []byte("secret"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(p.dir, "legacy-encrypted.key"), pem.EncodeToMemory(enc), 0o600)
	key, cert := filepath.Join(p.dir, "localhost.key"), filepath.Join(p.dir, "localhost.pem")
	for _, args := range [][]string{
		{"pkcs8", "-topk8", "-in", key, "-passout", "pass:secret", "-out", filepath.Join(p.dir, "pkcs8-encrypted.key")},
		{"pkcs12", "-export", "-inkey", key, "-in", cert, "-passout", "pass:", "-out", filepath.Join(p.dir, "identity.p12")},
	} {
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", args[0], err, out)
		}
	}
	eachBackend(t, func(t *testing.T, backend string) {
		b, _ := backends.ByName(backend)
		for _, c := range []struct{ key, cert string }{
			{"legacy-encrypted.key", "localhost.pem"},
			{"pkcs8-encrypted.key", "localhost.pem"},
			{"identity.p12", "identity.p12"},
		} {
			out, err := startGuest(t, backend, p, "./testdata/ext02", nil, "parse", "/certs/"+c.key, "/certs/"+c.cert).wait(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			keyData, _ := os.ReadFile(filepath.Join(p.dir, c.key))
			certData, _ := os.ReadFile(filepath.Join(p.dir, c.cert))
			_, perr := b.ParseIdentity(keyData, [][]byte{certData})
			if perr == nil {
				t.Fatalf("%s parses natively on %s", c.key, backend)
			}
			t.Logf("%s: %s", c.key, strings.TrimSpace(out))
			mustContain(t, out, "parse: error: wasitls: the host refused the private key or certificate chain: ", perr.Error())
		}
	})
}

// TestGuestClientRefusesRenegotiation: Node's disableRenegotiation, .NET's
// AllowRenegotiation. A guest/tls client on stdtls connects with TLS 1.2
// to openssl s_server, which then asks for a renegotiation (its "R"
// command sends a HelloRequest): the guest's connection refuses it
// (crypto/tls's RenegotiateNever, which stdtls keeps) and its read fails.
// circl-pq speaks only TLS 1.3, which has no renegotiation.
func TestGuestClientRefusesRenegotiation(t *testing.T) {
	openssl := testpeer.OpenSSL.Path(t)
	p := newGuestPKI(t)
	// Built before the server's clock starts: on a loaded machine with a
	// cold build cache the build alone can take most of it.
	guestbuild.MustBuild(t, auditGuest)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Port 0: s_server says which port it got (\"ACCEPT ADDR\"). A port
	// picked by a listener closed for it could be taken meanwhile.
	cmd := exec.CommandContext(ctx, openssl, "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-naccept", "1",
		"-cert", filepath.Join(p.dir, "localhost.pem"), "-key", filepath.Join(p.dir, "localhost.key"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen strings.Builder
	waitLine := func(want string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("openssl s_server ended before %q:\n%s\nstderr:\n%s", want, seen.String(), stderr.String())
				}
				seen.WriteString(l + "\n")
				if strings.Contains(l, want) {
					return l
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no %q from openssl s_server:\n%s\nstderr:\n%s", want, seen.String(), stderr.String())
			}
		}
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(waitLine("ACCEPT")), "ACCEPT ")
	if !ok {
		t.Fatalf("openssl s_server's ACCEPT line names no address:\n%s", seen.String())
	}
	g := startGuest(t, "stdtls", p, auditGuest, nil, "client", addr)
	waitLine("ping")
	io.WriteString(stdin, "R\n")
	out, err := g.wait(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("guest:\n%s", out)
	mustContain(t, out, "handshake ok: version=0x0303\n", "read 0 bytes, then: ", "no renegotiation")
}

// TestGuestAbortAtStepSendsAlert: a guest that aborts while suspended at
// receive-client-hello (a guest/tls server whose GetConfigForClient
// refuses) makes the backend send an alert: the Go client's handshake
// fails with "remote error: tls: ...". At receive-client-identity-request
// (a guest/tls client whose GetClientCertificate refuses) circl-pq sends
// one too; stdtls does not, because crypto/tls returns the hook's error
// without an alert: the Go server's handshake fails on the closed
// connection.
func TestGuestAbortAtStepSendsAlert(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("receive-client-hello", func(t *testing.T) {
			g := startGuest(t, backend, p, auditGuest, nil, "server", "reject-hello", "1")
			_, _, err := auditExchange(t, g.port(t), &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"})
			if err == nil || !strings.Contains(err.Error(), "remote error: tls: ") {
				t.Errorf("Go client: %v; want a received alert", err)
			}
			g.wait(t)
			mustContain(t, g.out.String(), "handshake failed: ", "refused by the test")
		})
		t.Run("receive-client-identity-request", func(t *testing.T) {
			ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{
				Certificates: []tls.Certificate{p.local.TLSCertificate()},
				ClientAuth:   tls.RequestClientCert,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			serverErr := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					serverErr <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err != nil {
					serverErr <- fmt.Errorf("handshake: %w", err)
					return
				}
				_, err = c.Read(make([]byte, 1))
				serverErr <- fmt.Errorf("read: %w", err)
			}()
			g := startGuest(t, backend, p, auditGuest, nil, "client", ln.Addr().String(), "reject-request")
			out, gerr := g.wait(t)
			if gerr != nil {
				t.Fatalf("%v\n%s", gerr, out)
			}
			mustContain(t, out, "dial: ", "refused by the test")
			err = <-serverErr
			t.Logf("Go server: %v", err)
			switch backend {
			case "stdtls":
				// crypto/tls returns the GetClientCertificate hook's
				// error without sending an alert.
				if err == nil || !strings.HasPrefix(err.Error(), "handshake: ") || strings.Contains(err.Error(), "remote error") {
					t.Errorf("Go server: %v; want its handshake to fail without an alert", err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), "remote error: tls: ") {
					t.Errorf("Go server: %v; want a received alert", err)
				}
			}
		})
	})
}
