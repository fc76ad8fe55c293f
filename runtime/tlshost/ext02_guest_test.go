package tlshost_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpeer"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// What wasitls:tls/extensions@0.2.0 adds, driven from a wasm guest
// through guest/tls on both backends.

// TestGuestAllowedAndDefaultAlgorithms: a guest reads the host's ceiling
// and defaults (getCiphers, DEFAULT_*), with and without host lists.
func TestGuestAllowedAndDefaultAlgorithms(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		b, _ := backends.ByName(backend)
		d := b.(backends.Describer)
		sup, def := d.Supported(), d.Defaults()
		out, err := startGuest(t, backend, p, "./testdata/ext02", nil, "algorithms").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out,
			fmt.Sprintf("allowed versions=%#04x suites=%#04x groups=%#04x", sup.Versions, sup.CipherSuites, sup.Groups),
			fmt.Sprintf("default versions=%#04x suites=%#04x groups=%#04x", def.Versions, def.CipherSuites, def.Groups))

		host := tlshost.Config{BackendName: backend, Groups: []uint16{hybrid, x25519}, Versions: []uint16{0x0304}}
		out, err = startGuestWith(t, host, p, "./testdata/ext02", nil, "algorithms").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out,
			fmt.Sprintf("allowed versions=[0x0304] suites=%#04x groups=[0x11ec 0x001d]", sup.CipherSuites),
			fmt.Sprintf("default versions=[0x0304] suites=%#04x groups=[0x11ec 0x001d]", def.CipherSuites))
	})
}

// TestGuestParseIdentityReason: a private identity that does not parse
// gives the guest the backend's reason.
func TestGuestParseIdentityReason(t *testing.T) {
	p := newGuestPKI(t)
	os.WriteFile(filepath.Join(p.dir, "garbage.key"), []byte("not a key"), 0o600)
	eachBackend(t, func(t *testing.T, backend string) {
		for _, c := range []struct{ key, cert, want string }{
			{"garbage.key", "localhost.pem", "parse: error: wasitls: the host refused the private key or certificate chain: "},
			{"client.key", "localhost.pem", "parse: error: wasitls: the host refused the private key or certificate chain: "},
			{"localhost.key", "localhost.pem", "parse: ok"},
		} {
			out, err := startGuest(t, backend, p, "./testdata/ext02", nil, "parse", "/certs/"+c.key, "/certs/"+c.cert).wait(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			mustContain(t, out, c.want)
			if strings.Contains(out, "error") {
				// The reason is the backend's, not a generic text.
				b, _ := backends.ByName(backend)
				key, _ := os.ReadFile(filepath.Join(p.dir, c.key))
				cert, _ := os.ReadFile(filepath.Join(p.dir, c.cert))
				_, perr := b.ParseIdentity(key, [][]byte{cert})
				if perr == nil {
					t.Fatalf("%s with %s parses natively", c.key, c.cert)
				}
				mustContain(t, out, perr.Error())
			}
		}
	})
}

// TestGuestClientHelloDetails: a guest server reads the versions, groups
// and signature schemes of an OpenSSL client's ClientHello, in its order.
func TestGuestClientHelloDetails(t *testing.T) {
	p := newGuestPKI(t)
	openssl := testpeer.OpenSSL.Path(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, "./testdata/ext02", nil, "hello", "/certs/localhost.key", "/certs/localhost.pem")
		port := g.port(t)
		cmd := exec.Command(openssl, "s_client", "-connect", "127.0.0.1:"+port, "-servername", "localhost", "-tls1_3",
			"-groups", "P-256:X25519", "-sigalgs", "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:ed25519",
			"-CAfile", filepath.Join(p.dir, "ca.pem"), "-verify_return_error", "-ign_eof")
		cmd.Stdin = strings.NewReader("")
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("openssl: %v\n%s", err, got)
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "hello versions=[0x0304] groups=[0x0017 0x001d] schemes=[0x0403 0x0804 0x0807]")
	})
}

// TestGuestCertificateRequestDetails: a guest client reads the acceptable
// CAs and signature schemes of a Go server's CertificateRequest.
func TestGuestCertificateRequestDetails(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{
			Certificates: []tls.Certificate{p.local.TLSCertificate()},
			ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: p.ca.Pool(),
			MinVersion: tls.VersionTLS13,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			tc := c.(*tls.Conn)
			if tc.Handshake() != nil || len(tc.ConnectionState().PeerCertificates) == 0 {
				return
			}
			io.WriteString(c, "hi "+tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
		}()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		out, err := startGuest(t, backend, p, "./testdata/ext02", nil, "request", "localhost", port, "/certs/client.key", "/certs/client.pem").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		// crypto/tls's TLS 1.3 CertificateRequest: the CA of ClientCAs,
		// and the schemes crypto/tls verifies (its order is its own).
		mustContain(t, out, "request cas=["+p.ca.Cert.Subject.CommonName+"] schemes=[", `server said "hi guest client"`)
		i := strings.Index(out, "schemes=[")
		schemes := out[i : i+strings.IndexByte(out[i:], ']')]
		for _, s := range []string{"0x0403", "0x0804", "0x0807", "0x0503"} {
			if !strings.Contains(schemes, s) {
				t.Errorf("request %s lacks %s", schemes, s)
			}
		}
	})
}

// TestGuestHostIdentity: a guest server and a guest client use identities
// the host holds by name (host-identity), against Go peers that validate
// them; a name the host does not hold is refused with a reason.
func TestGuestHostIdentity(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		host := tlshost.Config{BackendName: backend, Identities: map[string]*backends.Identity{"web": loadPKIIdentity(t, backend, p, "localhost"), "me": loadPKIIdentity(t, backend, p, "client")}}

		out, err := startGuestWith(t, host, p, "./testdata/ext02", nil, "parse", "host:nosuch", "-").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, `parse: error: wasitls: the host holds no identity named "nosuch"`)

		// A server.
		g := startGuestWith(t, host, p, "./testdata/ext02", nil, "hello", "host:web", "-")
		c, err := tls.Dial("tcp4", "127.0.0.1:"+g.port(t), &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(c)
		c.Close()
		if string(got) != "hello\n" {
			t.Errorf("the guest server said %q", got)
		}
		if out, err := g.wait(t); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}

		// A client answering a certificate request.
		ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{
			Certificates: []tls.Certificate{p.local.TLSCertificate()},
			ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: p.ca.Pool(),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			tc := c.(*tls.Conn)
			if tc.Handshake() != nil || len(tc.ConnectionState().PeerCertificates) == 0 {
				return
			}
			io.WriteString(c, "hi "+tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
		}()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		out, err = startGuestWith(t, host, p, "./testdata/ext02", nil, "request", "localhost", port, "host:me", "-").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, `server said "hi guest client"`)
	})
}

// loadPKIIdentity loads p's identity l (its l.pem and l.key) for backend,
// as Config.Identities holds it.
func loadPKIIdentity(t *testing.T, backend string, p *guestPKI, l string) *backends.Identity {
	t.Helper()
	id, err := tlshost.LoadIdentity(tlshost.Config{BackendName: backend}, filepath.Join(p.dir, l+".pem"), filepath.Join(p.dir, l+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestGuestHostIdentityScope: the guests of one runtime and one host each
// use only the host identities WithIdentities names for them: a guest
// instantiated with WithIdentities("a") gets "a" and is told of "b", which
// the host holds, what it is told of a name the host does not hold; a
// guest scoped to no names gets none; a guest of the same runtime
// instantiated without a scope gets both, as before.
func TestGuestHostIdentityScope(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		gr := newGuestRuntime(t, tlshost.Config{BackendName: backend, Identities: map[string]*backends.Identity{"a": loadPKIIdentity(t, backend, p, "localhost"), "b": loadPKIIdentity(t, backend, p, "client")}}, p)
		parse := func(base context.Context, name, want string) {
			t.Helper()
			gr.base = base
			out, err := gr.start(t, "./testdata/ext02", nil, "parse", "host:"+name, "-").wait(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			mustContain(t, out, want)
		}
		ok := "parse: ok, 1 certificates"
		none := func(name string) string {
			return fmt.Sprintf("parse: error: wasitls: the host holds no identity named %q", name)
		}
		scoped := tlshost.WithIdentities(context.Background(), "a")
		parse(scoped, "a", ok)
		parse(scoped, "b", none("b"))
		parse(scoped, "nosuch", none("nosuch"))
		parse(tlshost.WithIdentities(context.Background()), "a", none("a"))
		parse(nil, "a", ok)
		parse(nil, "b", ok)
	})
}
