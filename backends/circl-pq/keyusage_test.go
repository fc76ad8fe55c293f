package circlpq

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// TestLeafKeyUsage: a certificate whose keyUsage lacks digitalSignature
// cannot authenticate a TLS 1.3 peer (RFC 8446, Section 4.4.2.2), even
// with validation off.
func TestLeafKeyUsage(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "a.test"},
		DNSNames:     []string{"a.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageKeyAgreement,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cc := &backends.ClientConfig{ServerName: "a.test", InsecureSkipVerify: true}
	sc := &backends.ServerConfig{Identities: []*backends.Identity{{Chain: [][]byte{der}, Key: key}}}
	craw, sraw := tcpPair(t)
	_, chs := engineClient(t, craw, cc)
	_, shs := engineServer(t, sraw, sc)
	cerr, _ := both(chs, shs)
	var ae *AlertError
	if !errors.As(cerr, &ae) || ae.Remote || ae.Alert != alertBadCertificate {
		t.Fatalf("client: %v; want a local bad_certificate", cerr)
	}
}
