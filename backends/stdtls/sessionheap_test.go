package stdtls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testnet"
)

// TestSessionCacheParsedChainBound: a session that holds more than
// maxSessionHeap (640 KiB) on the heap, what crypto/tls keeps parsed of
// its server's chain included, is not stored for resumption, since a
// guest's session cache (64 by default) would keep it after every
// connection is gone: a server sending after its trusted leaf
// certificates of thousands of one-letter URIs, 40 times their bytes
// parsed, made each session hold some 10 MiB, 640 MiB in a full cache. A
// session of an ordinary chain, or of a 200 KiB certificate, is stored.
// Against a crypto/tls server on loopback.
func TestSessionCacheParsedChainBound(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	// leafWith is a self-signed localhost leaf, trusted, carrying an
	// extension of kib KiB.
	leafWith := func(serial int64, kib int) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), DNSNames: []string{"localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 3}, Value: make([]byte, kib<<10)}}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		roots.AddCert(parsed)
		return der
	}
	leaf, bigLeaf := leafWith(10, 0), leafWith(11, 200)
	junk := uriCert(t)
	for _, tc := range []struct {
		name   string
		chain  [][]byte
		stored bool
	}{
		{"ordinary", [][]byte{leaf}, true},
		{"200 KiB", [][]byte{bigLeaf}, true},
		{"URIs", [][]byte{leaf, junk}, false},
	} {
		raw, sraw := testnet.TCPPairWithin(t, 10*time.Second)
		go func() {
			s := tls.Server(sraw, &tls.Config{Certificates: []tls.Certificate{{Certificate: tc.chain, PrivateKey: key}}})
			if s.Handshake() == nil {
				s.Write([]byte{1})
				io.Copy(io.Discard, s)
			}
		}()
		cache := backends.NewLRUSessionCache(4)
		conn, err := stdtls.Backend{}.Client(raw, &backends.ClientConfig{ServerName: "localhost", RootCAs: roots, Sessions: cache})
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Handshake(t.Context()); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// The client reads the TLS 1.3 ticket on its way to the server's byte.
		if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		conn.Close()
		if stored := cache.Len() == 1; stored != tc.stored {
			t.Errorf("%s chain: session stored %v, want %v", tc.name, stored, tc.stored)
		}
	}
}
