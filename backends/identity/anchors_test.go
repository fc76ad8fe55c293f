package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"runtime"
	"testing"
	"time"
)

func selfSigned(t testing.TB, cn string) *x509.Certificate {
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

// anchorPool returns a pool of n registered anchors and one registered
// anchor it does not hold.
func anchorPool(tb testing.TB, n int) (pool *x509.CertPool, in, out *x509.Certificate) {
	tb.Helper()
	pool = x509.NewCertPool()
	for i := range n {
		c := selfSigned(tb, fmt.Sprintf("pool anchor %d", i))
		AddTrustAnchor(pool, c)
		in = c
	}
	out = selfSigned(tb, "not in the pool")
	AddTrustAnchor(x509.NewCertPool(), out)
	return pool, in, out
}

// TestPoolContainsAllocs: looking a pool up again allocates nothing, for
// an anchor it holds and one it does not; an anchor added to the pool
// since counts at once.
func TestPoolContainsAllocs(t *testing.T) {
	pool, in, out := anchorPool(t, 32)
	if !poolContains(pool, in) || poolContains(pool, out) {
		t.Fatal("poolContains is wrong on first use")
	}
	for _, c := range []*x509.Certificate{in, out} {
		if a := testing.AllocsPerRun(100, func() { poolContains(pool, c) }); a != 0 {
			t.Errorf("poolContains allocates %.0f times a lookup; want 0", a)
		}
	}
	AddTrustAnchor(pool, out)
	if !poolContains(pool, out) {
		t.Error("an anchor added to the pool since it was looked up is not found")
	}
	if got := TrustAnchors(pool, out.RawSubject); len(got) != 1 {
		t.Errorf("TrustAnchors after adding: %d certificates; want 1", len(got))
	}
	// A copy of the pool holds what the pool held.
	if clone := pool.Clone(); !poolContains(clone, in) || !poolContains(clone, out) {
		t.Error("a clone of the pool does not hold its anchors")
	}
}

// BenchmarkPoolContains: a lookup in a pool of 32 anchors, and, for
// comparison, the probe a lookup made before (and a first one makes): a
// copy of the pool.
func BenchmarkPoolContains(b *testing.B) {
	pool, in, out := anchorPool(b, 32)
	probe := func(pool *x509.CertPool, cert *x509.Certificate) bool {
		p := pool.Clone()
		p.AddCert(cert)
		return p.Equal(pool)
	}
	for _, c := range []struct {
		name string
		cert *x509.Certificate
	}{{"held", in}, {"not-held", out}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				poolContains(pool, c.cert)
			}
		})
		b.Run(c.name+"-probe", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				probe(pool, c.cert)
			}
		})
	}
}

var globalPool x509.CertPool // not on the heap

// TestPoolContainsForgets: a pool that is gone is forgotten; a pool that
// is a global variable (never gone) works too.
func TestPoolContainsForgets(t *testing.T) {
	a := selfSigned(t, "global anchor")
	globalPool = *x509.NewCertPool()
	AddTrustAnchor(&globalPool, a)
	if !poolContains(&globalPool, a) {
		t.Fatal("the global pool does not hold its anchor")
	}
	count := func() int {
		held.Lock()
		defer held.Unlock()
		return len(held.pools)
	}
	before := count()
	func() {
		pool, in, _ := anchorPool(t, 2)
		if !poolContains(pool, in) {
			t.Fatal("the pool does not hold its anchor")
		}
	}()
	if count() != before+1 {
		t.Fatalf("%d pools known, want %d", count(), before+1)
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() > before {
		if time.Now().After(deadline) {
			t.Fatalf("a pool that is gone is still known (%d pools, want %d)", count(), before)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
