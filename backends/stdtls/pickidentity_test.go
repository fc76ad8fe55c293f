package stdtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// TestPickLoneIdentityWithoutNameCheck: a server with one identity picks
// it for any server name the client can verify it under, its own or
// another (the client then reports the mismatch), without checking the
// name: x509's hostname parsing allocated four times a handshake for a
// choice there is not to make. With two identities the name still
// chooses.
func TestPickLoneIdentityWithoutNameCheck(t *testing.T) {
	one, two := testIdentity(t, "one.test"), testIdentity(t, "two.test")
	raw, peer := net.Pipe()
	defer raw.Close()
	defer peer.Close()
	c := newConn(raw, false)
	hello := func(name string) *tls.ClientHelloInfo {
		return &tls.ClientHelloInfo{
			ServerName:        name,
			SupportedVersions: []uint16{tls.VersionTLS13},
			SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
			SupportedCurves:   []tls.CurveID{tls.X25519},
		}
	}
	lone := []*backends.Identity{one}
	for _, name := range []string{"one.test", "two.test", ""} {
		cert, err := c.pickIdentity(hello(name), lone)
		if err != nil || cert.PrivateKey != one.Key {
			t.Fatalf("%q: %v, %v", name, cert, err)
		}
	}
	both := []*backends.Identity{one, two}
	if cert, err := c.pickIdentity(hello("two.test"), both); err != nil || cert.PrivateKey != two.Key {
		t.Fatalf("two identities, two.test: %v, %v", cert, err)
	}
	// A client that cannot verify the lone identity's signature is
	// still refused.
	rsaOnly := hello("one.test")
	rsaOnly.SignatureSchemes = []tls.SignatureScheme{tls.PSSWithSHA256}
	if _, err := c.pickIdentity(rsaOnly, lone); err == nil {
		t.Fatal("an identity the client cannot verify was picked")
	}
	chi := hello("one.test")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.pickIdentity(chi, lone); err != nil {
			t.Fatal(err)
		}
	})
	// The tls.Certificate handed to crypto/tls and two of crypto/tls's
	// own in SupportsCertificate (an empty Config for a ClientHelloInfo
	// made outside a handshake among them); with the name checked, 8.
	if allocs > 3 {
		t.Fatalf("picking the lone identity: %.0f allocations, want at most 3", allocs)
	}
}

func testIdentity(t *testing.T, name string) *backends.Identity {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &backends.Identity{Chain: [][]byte{der}, Key: key, Leaf: leaf}
}
