package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTrustAnchors(t *testing.T) {
	a, b, sameName := selfSigned(t, "anchor A"), selfSigned(t, "anchor B"), selfSigned(t, "anchor A")
	poolA := x509.NewCertPool()
	AddTrustAnchor(poolA, a)
	poolB := x509.NewCertPool()
	if !AppendTrustAnchorsFromPEM(poolB, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Raw})) {
		t.Fatal("AppendTrustAnchorsFromPEM added nothing")
	}
	// Registered elsewhere, but not in poolA: it must not count for it.
	AddTrustAnchor(x509.NewCertPool(), sameName)

	if got := TrustAnchors(poolA, a.RawSubject); len(got) != 1 || !got[0].Equal(a) {
		t.Errorf("TrustAnchors(poolA, A) = %d certificates; want A only", len(got))
	}
	if got := TrustAnchors(poolA, b.RawSubject); len(got) != 0 {
		t.Errorf("TrustAnchors(poolA, B) found %d certificates of another pool", len(got))
	}
	if got := TrustAnchors(poolB, b.RawSubject); len(got) != 1 {
		t.Errorf("TrustAnchors(poolB, B) = %d certificates; want 1", len(got))
	}
	if got := TrustAnchors(nil, a.RawSubject); got != nil {
		t.Errorf("TrustAnchors(nil) = %d certificates; want none", len(got))
	}
	// The pools are ordinary CertPools.
	if _, err := a.Verify(x509.VerifyOptions{Roots: poolA}); err != nil {
		t.Errorf("pool built with AddTrustAnchor does not verify its root: %v", err)
	}
	if AppendTrustAnchorsFromPEM(x509.NewCertPool(), []byte("not PEM")) {
		t.Error("AppendTrustAnchorsFromPEM accepted garbage")
	}
}
