package backends_test

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestCANames: the names of a pool are named while they take at most
// MaxCANames bytes with their 2-byte lengths, to the byte, and not past
// it; a nil pool names none.
func TestCANames(t *testing.T) {
	if backends.CANames(nil) != nil {
		t.Fatal("names for a nil pool")
	}
	// A CA whose common name takes n bytes: from 256 bytes to 64 KiB the
	// subject's DER lengths take the same bytes, so it is n plus a
	// constant.
	ca := func(n int) *x509.Certificate {
		c, err := testpki.NewCAWith(strings.Repeat("c", n), testpki.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		return c.Cert
	}
	pool := func(c ...*x509.Certificate) *x509.CertPool {
		p := x509.NewCertPool()
		for _, c := range c {
			p.AddCert(c)
		}
		return p
	}
	small := ca(300)
	overhead := len(small.RawSubject) - 300
	n := backends.MaxCANames - (2 + len(small.RawSubject)) - 2 - overhead
	exact, over := ca(n), ca(n+1)
	if got := 2 + len(small.RawSubject) + 2 + len(exact.RawSubject); got != backends.MaxCANames {
		t.Fatalf("the names take %d bytes, want %d", got, backends.MaxCANames)
	}
	if names := backends.CANames(pool(small, exact)); len(names) != 2 {
		t.Errorf("names taking exactly %d bytes: %d named, want 2", backends.MaxCANames, len(names))
	}
	if names := backends.CANames(pool(small, over)); names != nil {
		t.Errorf("names taking %d bytes: %d named, want none", backends.MaxCANames+1, len(names))
	}
}
