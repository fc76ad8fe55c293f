package tlshost_test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestIdentityOverCertificateMessage: a guest server whose identity's
// chain takes more than a TLS 1.3 Certificate message's 2^24 bytes (a
// host that raised --max-identity-bytes lets it parse one) fails its
// handshake with an error it reads, on both backends, and so does the
// client; nothing panics in the host. The chain is the localhost leaf and
// a certificate carrying a 17 MiB extension.
func TestGuestIdentityOverCertificateMessage(t *testing.T) {
	p := newGuestPKI(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "oversized"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{
			Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, Value: make([]byte, 17<<20),
		}},
	}
	huge, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, p.local.Key.Public(), p.local.Key)
	if err != nil {
		t.Fatal(err)
	}
	chain := append(p.local.ChainPEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: huge})...)
	if err := os.WriteFile(filepath.Join(p.dir, "oversized.pem"), chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "oversized.key"), p.local.KeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuestWith(t, tlshost.Config{BackendName: backend, IdentityBytes: 64 << 20}, p, "./testdata/ext02", nil,
			"export-server", "/certs/oversized.key", "/certs/oversized.pem", "label", "none", "32")
		c, err := tls.Dial("tcp4", "127.0.0.1:"+g.port(t), &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"})
		if err == nil {
			c.Close()
			t.Error("the client's handshake succeeded")
		}
		out, gerr := g.wait(t)
		if gerr == nil || !strings.Contains(out, "ext02: handshake: ") || strings.Contains(out, "panic") {
			t.Errorf("guest: %v\n%s\nwant its handshake to fail with an error, without a panic", gerr, out)
		}
		t.Logf("client: %v; guest: %.300s", err, out)
	})
}
