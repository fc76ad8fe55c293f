package tlshost_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpeer"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

const ocspGuest = "./testdata/ocsp"

// ocspResponse makes a "good" OCSP response for the localhost leaf,
// signed by the test CA, and writes it to the PKI directory as
// localhost.ocsp.
func ocspResponse(t *testing.T, p *guestPKI) (der []byte, file string) {
	t.Helper()
	now := time.Now()
	der, err := ocsp.CreateResponse(p.ca.Cert, p.ca.Cert, ocsp.Response{
		Status: ocsp.Good, SerialNumber: p.local.Cert.SerialNumber,
		ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(24 * time.Hour),
	}, p.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(p.dir, "localhost.ocsp")
	if err := os.WriteFile(file, der, 0o600); err != nil {
		t.Fatal(err)
	}
	return der, file
}

func ocspLine(der []byte) string {
	return fmt.Sprintf("ocsp: len=%d sha256=%x\n", len(der), sha256.Sum256(der))
}

// TestGuestClientOCSP: Node's 'OCSPResponse' event, requestOCSP. A
// guest/tls client reads the OCSP response its server stapled
// (client-ocsp-response, ConnectionState.OCSPResponse), byte for byte,
// from a crypto/tls server (Certificate.OCSPStaple) and from openssl
// s_server -status_file, on both backends; a server that staples none
// gives none.
func TestGuestClientOCSP(t *testing.T) {
	p := newGuestPKI(t)
	der, file := ocspResponse(t, p)
	eachBackend(t, func(t *testing.T, backend string) {
		for _, staple := range [][]byte{der, nil} {
			t.Run(fmt.Sprintf("go/staple=%v", staple != nil), func(t *testing.T) {
				cert := p.local.TLSCertificate()
				cert.OCSPStaple = staple
				ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
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
					c.SetDeadline(time.Now().Add(20 * time.Second))
					line, _ := bufio.NewReader(c).ReadString('\n')
					io.WriteString(c, "hello "+line)
				}()
				out, err := startGuest(t, backend, p, ocspGuest, nil, "client", ln.Addr().String()).wait(t)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				want := "ocsp: none\n"
				if staple != nil {
					want = ocspLine(staple)
				}
				mustContain(t, out, want, "read hello ping\n")
			})
		}
		t.Run("openssl", func(t *testing.T) {
			openssl := testpeer.OpenSSL.Path(t)
			addr, sout := startOpenSSLServer(t, openssl, "-rev", "-status_file", file,
				"-cert", filepath.Join(p.dir, "localhost.pem"), "-key", filepath.Join(p.dir, "localhost.key"))
			out, err := startGuest(t, backend, p, ocspGuest, nil, "client", addr).wait(t)
			if err != nil {
				t.Fatalf("%v\n%s\nopenssl:\n%s", err, out, sout.String())
			}
			mustContain(t, out, ocspLine(der), "read gnip\n")
		})
	})
}

// startOCSPServerGuest runs the ocsp guest as a server with the host's
// identity "stapled", which carries the response in file.
func startOCSPServerGuest(t *testing.T, backend string, p *guestPKI, file string) *guest {
	t.Helper()
	cfg := tlshost.Config{BackendName: backend}
	id, err := tlshost.LoadIdentity(cfg, filepath.Join(p.dir, "localhost.pem"), filepath.Join(p.dir, "localhost.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tlshost.LoadOCSP(id, file); err != nil {
		t.Fatal(err)
	}
	cfg.Identities = map[string]*backends.Identity{"stapled": id}
	return startGuestWith(t, cfg, p, ocspGuest, nil, "server", "stapled")
}

// TestGuestServerOCSP: Node's 'OCSPRequest' event, answered by the host.
// A guest/tls server presenting the identity the host holds with an OCSP
// response (host-identity; tlshost.LoadOCSP, --identity NAME=CERT,KEY,OCSP)
// staples it, on both backends: a crypto/tls client receives it byte for
// byte, and openssl s_client -status reads it as a successful response
// with status good.
func TestGuestServerOCSP(t *testing.T) {
	p := newGuestPKI(t)
	der, file := ocspResponse(t, p)
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("go", func(t *testing.T) {
			g := startOCSPServerGuest(t, backend, p, file)
			st, got, err := auditExchange(t, g.port(t), &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"})
			if err != nil || got != "hello ping\n" {
				t.Fatalf("%q, %v", got, err)
			}
			if string(st.OCSPResponse) != string(der) {
				t.Errorf("crypto/tls received %d bytes of OCSP response, want the %d attached", len(st.OCSPResponse), len(der))
			}
			if out, err := g.wait(t); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
		t.Run("openssl", func(t *testing.T) {
			openssl := testpeer.OpenSSL.Path(t)
			g := startOCSPServerGuest(t, backend, p, file)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", "127.0.0.1:"+g.port(t), "-servername", "localhost",
				"-CAfile", filepath.Join(p.dir, "ca.pem"), "-verify_return_error", "-status", "-ign_eof")
			cmd.Stdin = strings.NewReader("ping\n")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("s_client: %v\n%s", err, out)
			}
			for _, want := range []string{"OCSP Response Status: successful", "Cert Status: good", "hello ping"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("s_client output lacks %q:\n%s", want, out)
				}
			}
			if out, err := g.wait(t); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	})
}

// TestLoadOCSP: the host attaches only a parsable OCSP response about the
// identity's own leaf.
func TestLoadOCSP(t *testing.T) {
	p := newGuestPKI(t)
	_, file := ocspResponse(t, p)
	load := func(cert string) (*backends.Identity, error) {
		return tlshost.LoadIdentity(tlshost.Config{}, filepath.Join(p.dir, cert+".pem"), filepath.Join(p.dir, cert+".key"))
	}
	local, err := load("localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := tlshost.LoadOCSP(local, file); err != nil || len(local.OCSP) == 0 {
		t.Fatalf("the localhost response: %v", err)
	}
	other, _ := load("example")
	if err := tlshost.LoadOCSP(other, file); err == nil || !strings.Contains(err.Error(), "serial number") {
		t.Errorf("another leaf's response: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("not DER"), 0o600)
	if err := tlshost.LoadOCSP(local, junk); err == nil || !strings.Contains(err.Error(), "not an OCSP response") {
		t.Errorf("junk: %v", err)
	}
}

// TestHostFileCaps: the identity and trust files the host reads
// (LoadIdentity's chain and key, LoadOCSP's response, LoadTrustAnchors'
// certificates) are read up to a cap: a file one byte over it, and a
// device that never ends, are errors naming the cap, not reads without
// bound.
func TestHostFileCaps(t *testing.T) {
	p := newGuestPKI(t)
	_, ocspFile := ocspResponse(t, p)
	cert, key := filepath.Join(p.dir, "localhost.pem"), filepath.Join(p.dir, "localhost.key")
	big := func(n int) string {
		f := filepath.Join(t.TempDir(), "big")
		if err := os.WriteFile(f, make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	endless := []string{}
	if _, err := os.Stat("/dev/zero"); err == nil {
		endless = append(endless, "/dev/zero")
	}
	load := func(cert, key string) error {
		_, err := tlshost.LoadIdentity(tlshost.Config{}, cert, key)
		return err
	}
	id, err := tlshost.LoadIdentity(tlshost.Config{}, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		max  int
		load func(file string) error
	}{
		{"certificate chain", tlshost.MaxChainFile, func(f string) error { return load(f, key) }},
		{"private key", tlshost.MaxKeyFile, func(f string) error { return load(cert, f) }},
		{"OCSP response", tlshost.MaxOCSPFile, func(f string) error { return tlshost.LoadOCSP(id, f) }},
		{"file of trust anchors", tlshost.MaxTrustFile, func(f string) error { return tlshost.LoadTrustAnchors(x509.NewCertPool(), f) }},
	} {
		for _, f := range append([]string{big(tc.max + 1)}, endless...) {
			err := tc.load(f)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("larger than %d KiB", tc.max>>10)) {
				t.Errorf("a %s of %s: %v, want an error naming the cap", tc.what, f, err)
			}
		}
	}
	if err := tlshost.LoadOCSP(id, ocspFile); err != nil {
		t.Errorf("a response under the cap: %v", err)
	}
	if err := tlshost.LoadTrustAnchors(x509.NewCertPool(), cert); err != nil {
		t.Errorf("trust anchors under the cap: %v", err)
	}
	if err := tlshost.LoadTrustAnchors(x509.NewCertPool(), key); err == nil || !strings.Contains(err.Error(), key+": no PEM certificate") {
		t.Errorf("trust anchors from a key file: %v, want an error naming the file", err)
	}
	// A valid response under the file's cap but longer than a Certificate
	// message staples: every handshake would fail with it (before, it was
	// taken, and circl-pq panicked encoding the message).
	for _, size := range []int{tlshost.MaxStapledOCSP, tlshost.MaxStapledOCSP + 1, tlshost.MaxOCSPFile} {
		der := paddedOCSPResponse(t, p, size)
		f := filepath.Join(t.TempDir(), "padded.ocsp")
		if err := os.WriteFile(f, der, 0o600); err != nil {
			t.Fatal(err)
		}
		err := tlshost.LoadOCSP(id, f)
		switch want := fmt.Sprintf("more than the %d a TLS 1.3 Certificate message holds", tlshost.MaxStapledOCSP); {
		case size <= tlshost.MaxStapledOCSP && err != nil:
			t.Errorf("a response of %d bytes: %v", len(der), err)
		case size > tlshost.MaxStapledOCSP && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("a response of %d bytes: %v; want an error saying %q", len(der), err, want)
		}
	}
}

// paddedOCSPResponse is a valid OCSP response for p.local of exactly size
// bytes, padded with an extension. The CA's ECDSA signature is 70 to 72
// bytes long, drawn afresh at each signing: with the padding set from the
// last response's length, a response has the size wanted only when its
// signature is as long as the last one's (about 3 in 8), so 8 tries
// failed about once in 10 runs of TestHostFileCaps; 100 do not.
func paddedOCSPResponse(t *testing.T, p *guestPKI, size int) []byte {
	t.Helper()
	now := time.Now()
	pad := size - 600
	for range 100 {
		der, err := ocsp.CreateResponse(p.ca.Cert, p.ca.Cert, ocsp.Response{
			Status: ocsp.Good, SerialNumber: p.local.Cert.SerialNumber,
			ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(24 * time.Hour),
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: make([]byte, pad)}},
		}, p.ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		if len(der) == size {
			return der
		}
		pad += size - len(der)
	}
	t.Fatalf("could not pad an OCSP response to %d bytes", size)
	return nil
}
