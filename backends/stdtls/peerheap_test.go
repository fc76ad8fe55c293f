package stdtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net/url"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// memoChain returns a parsed chain of a leaf and one more certificate
// naming urls URIs, each certificate parsed anew on every call.
func memoChain(t *testing.T, urls int) (parse func() []*x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var ders [][]byte
	for i := range 2 {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), DNSNames: []string{"localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		for range urls * i {
			tmpl.URIs = append(tmpl.URIs, &url.URL{Scheme: "a"})
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		ders = append(ders, der)
	}
	return func() []*x509.Certificate {
		var certs []*x509.Certificate
		for _, der := range ders {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			certs = append(certs, c)
		}
		return certs[:len(certs):len(certs)]
	}
}

// TestChainHeapMemo: the memo's count of a chain is the walk's
// (backends.HeapBytes), a chain of the same certificates is not walked
// again (no allocation), a chain whose leaf is the same object but whose
// other certificates are not, or whose slice differs in capacity, is
// walked again, and the memo lets go of a chain once its leaf is
// collected.
func TestChainHeapMemo(t *testing.T) {
	var memo chainHeapMemo
	parse := memoChain(t, 500)
	certs := parse()
	walk := func(certs []*x509.Certificate) int64 {
		return backends.HeapBytes(certs, rawChain(certs)...)
	}
	want := walk(certs)
	if got := memo.chainHeapBytes(certs); got != want {
		t.Fatalf("memo counts %d bytes; the walk %d", got, want)
	}
	same := append([]*x509.Certificate(nil), certs...)[:len(certs):len(certs)]
	if allocs := testing.AllocsPerRun(100, func() {
		if got := memo.chainHeapBytes(same); got != want {
			t.Fatalf("memo counts %d bytes for the same chain; the walk %d", got, want)
		}
	}); allocs != 0 {
		t.Errorf("the same chain again allocates %v objects; want none (no walk)", allocs)
	}

	// The same leaf with the other certificate parsed anew, and with a
	// certificate of many more URIs: walked again, counted as the walk.
	other := parse()
	for _, c := range [][]*x509.Certificate{
		{certs[0], other[1]},
		{certs[0], memoChain(t, 3000)()[1]},
		{certs[0]},
		append(make([]*x509.Certificate, 0, 8), certs...),
	} {
		if got, want := memo.chainHeapBytes(c), walk(c); got != want {
			t.Errorf("memo counts %d bytes for a chain of %d certificates (capacity %d) of the same leaf; the walk %d",
				got, len(c), cap(c), want)
		}
	}
	if n := memo.len(); n != 1 {
		t.Errorf("memo holds %d chains for one leaf; want 1", n)
	}

	// Once nothing holds the leaf, its entry goes.
	certs, same, other = nil, nil, nil
	for deadline := time.Now().Add(10 * time.Second); memo.len() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("memo holds %d chains 10 s after their leaf was dropped", memo.len())
		}
		goruntime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
