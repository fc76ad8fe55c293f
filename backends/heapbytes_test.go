package backends_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/url"
	goruntime "runtime"
	"testing"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testpki"
)

// TestIdentityHeapBytesCovers: what IdentityHeapBytes counts of a parsed
// identity, with its key and chain bytes, covers what the identities hold
// on the heap, measured after collecting, and is within twice it, for the
// shapes that hold the most for their bytes: a minimal Ed25519 identity
// (7 times its 274 bytes), a leaf naming 4,000 one-letter URIs (39 times
// its DER), an ML-DSA-87 key given as its 54-byte seed (37 times its key
// and its certificate, which an Ed25519 CA signed).
func TestIdentityHeapBytesCovers(t *testing.T) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	selfSigned := func(uris int) ([]byte, []byte) {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1)}
		for range uris {
			tmpl.URIs = append(tmpl.URIs, &url.URL{Scheme: "a"})
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ed.Public(), ed)
		if err != nil {
			t.Fatal(err)
		}
		key, err := x509.MarshalPKCS8PrivateKey(crypto.Signer(ed))
		if err != nil {
			t.Fatal(err)
		}
		return key, der
	}
	ca, err := testpki.NewCAWith("heap bytes CA", testpki.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{Key: testpki.MLDSA87})
	if err != nil {
		t.Fatal(err)
	}
	seed, err := testpki.MarshalMLDSAPKCS8(leaf.Key, testpki.MLDSASeed)
	if err != nil {
		t.Fatal(err)
	}
	minimalKey, minimalCert := selfSigned(0)
	urisKey, urisCert := selfSigned(4000)
	for _, tc := range []struct {
		name    string
		backend backends.Backend
		key     []byte
		cert    []byte
		n       int
	}{
		{"minimal stdtls", stdtls.Backend{}, minimalKey, minimalCert, 2000},
		{"minimal circl-pq", circlpq.Backend{}, minimalKey, minimalCert, 2000},
		{"URIs", stdtls.Backend{}, urisKey, urisCert, 20},
		{"ML-DSA-87 seed", circlpq.Backend{}, seed, leaf.Chain[0], 50},
	} {
		held := make([]*backends.Identity, 0, tc.n)
		before := heapAlloc()
		for range tc.n {
			id, err := tc.backend.ParseIdentity(append([]byte(nil), tc.key...), [][]byte{append([]byte(nil), tc.cert...)})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			held = append(held, id)
		}
		measured := float64(heapAlloc()-before) / float64(tc.n)
		// What the wasi:tls host counts: the bytes, 48 for the chain's one
		// element (tlshost's chainElemCost), what the parse made and 256
		// for the guest's resource over it (identityParsedBytes).
		counted := float64(len(tc.key) + len(tc.cert) + 48 + 256 + int(backends.IdentityHeapBytes(held[0])))
		t.Logf("%s: key and certificate %d bytes, %.0f on the heap, %.0f counted", tc.name, len(tc.key)+len(tc.cert), measured, counted)
		if counted < measured || counted > 2*measured {
			t.Errorf("%s: counted %.0f bytes an identity, the heap holds %.0f: want at least that, at most twice", tc.name, counted, measured)
		}
		goruntime.KeepAlive(held)
	}
}

// heapAlloc is the heap in use once collected.
func heapAlloc() uint64 {
	goruntime.GC()
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHeapBytesSlicesOfOneArray: the pieces of one array a parsed
// certificate keeps (Raw, RawTBSCertificate, its extensions' values)
// count once: a certificate carrying a 200 KiB extension, parsed from a
// copy nobody else holds, counts about its DER, not a multiple of it.
func TestHeapBytesSlicesOfOneArray(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 4}, Value: make([]byte, 200<<10)}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(append([]byte(nil), der...))
	if err != nil {
		t.Fatal(err)
	}
	if n := backends.HeapBytes(cert); n < int64(len(der)) || n > int64(len(der))+16<<10 {
		t.Errorf("HeapBytes of a parsed %d-byte certificate: %d, want its DER and at most 16 KiB more", len(der), n)
	}
}

// BenchmarkHeapBytesLongChain measures what HeapBytes costs per
// certificate (ns/cert) of a chain of 64 and of 2,048: about the same. A
// peer's Certificate message of 256 KiB holds some 1,400 minimal
// certificates, each of whose strings and slices was looked up among
// every certificate's DER: before, the cost per certificate grew with
// their number (15.7 times at 2,048 against 64; 1.2-1.7 times now).
func BenchmarkHeapBytesLongChain(b *testing.B) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1)}
	for i := range 32 {
		tmpl.DNSNames = append(tmpl.DNSNames, fmt.Sprintf("n%d.example", i))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{64, 2048} {
		b.Run(fmt.Sprintf("certs=%d", n), func(b *testing.B) {
			msg := bytes.Repeat(der, n) // one buffer, as crypto/tls parses a Certificate message
			var certs []*x509.Certificate
			var raw [][]byte
			for i := range n {
				c, err := x509.ParseCertificate(msg[i*len(der) : (i+1)*len(der)])
				if err != nil {
					b.Fatal(err)
				}
				certs, raw = append(certs, c), append(raw, c.Raw)
			}
			for b.Loop() {
				backends.HeapBytes(certs, raw...)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/cert")
		})
	}
}

// TestHeapBytesShared: bytes within any of the shared slices count
// nothing, wherever the slices lie; bytes beside them count.
func TestHeapBytesShared(t *testing.T) {
	bufs := make([][]byte, 5)
	for i := range bufs {
		bufs[i] = make([]byte, 1000)
	}
	shared := [][]byte{bufs[3][10:20], bufs[0], bufs[4][:0:0], bufs[2][500:]}
	// The outer slice's header boxed in the interface (24 bytes) and its
	// array count; what its elements point to is shared (a slice's
	// allocation runs to the end of its capacity: bufs[3][10:20] holds
	// bufs[3][20:30]).
	if n := backends.HeapBytes([][]byte{bufs[0][999:], bufs[2][700:800], bufs[3][20:30]}, shared...); n != 24+80 {
		t.Errorf("HeapBytes of pieces of shared slices: %d, want 104", n)
	}
	// bufs[1] is not shared, nor the start of bufs[2]: two allocations of
	// 1,000 bytes, each rounded up by the allocator to 1,136.
	if n := backends.HeapBytes([][]byte{bufs[1][:10], bufs[2][:10]}, shared...); n != 24+48+2*1136 {
		t.Errorf("HeapBytes of pieces of slices not shared: %d, want 2,344", n)
	}
}

// foreignKey is a key of an embedder's own backend: what it reaches may
// change as it signs.
type foreignKey struct {
	crypto.Signer
	cache map[string][]byte
}

// TestIdentityHeapBytesForeignKey: the key of an embedder's backend is
// not walked (its backend may write its maps meanwhile, which would stop
// the process), while the keys of the standard library count what they
// hold.
func TestIdentityHeapBytesForeignKey(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreign := &foreignKey{Signer: key, cache: map[string][]byte{"a": make([]byte, 1<<20)}}
	base := backends.IdentityHeapBytes(&backends.Identity{})
	if n := backends.IdentityHeapBytes(&backends.Identity{Key: foreign}) - base; n > 1<<10 {
		t.Errorf("an embedder's key counts %d bytes: it was walked", n)
	}
	if n := backends.IdentityHeapBytes(&backends.Identity{Key: key}) - base; n < int64(len(key)) {
		t.Errorf("an Ed25519 key counts %d bytes, want at least its %d", n, len(key))
	}
}
