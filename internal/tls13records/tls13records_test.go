package tls13records_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/internal/tls13records"
)

// TestSealerAsCryptoTLS: records a Sealer writes after a crypto/tls
// handshake, a KeyUpdate and data under the next keys included, read as
// the peer's in crypto/tls, each way, in the cipher suite crypto/tls negotiates.
func TestSealerAsCryptoTLS(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sealerIsServer := range []bool{true, false} {
		craw, sraw := testnet.TCPPairWithin(t, 10*time.Second)
		sealerRaw, otherRaw := craw, sraw
		if sealerIsServer {
			sealerRaw, otherRaw = sraw, craw
		}
		serverCfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, SessionTicketsDisabled: true}
		clientCfg := &tls.Config{ServerName: "a.test", RootCAs: ca.Pool()}
		sealerCfg, otherCfg := clientCfg, serverCfg
		if sealerIsServer {
			sealerCfg, otherCfg = serverCfg, clientCfg
		}
		done := make(chan error, 1)
		go func() {
			_, s, err := tls13records.Handshake(sealerRaw, sealerCfg, sealerIsServer)
			if err == nil {
				recs := append(s.Seal(23, []byte("before ")), s.KeyUpdate()...)
				recs = append(recs, s.Seal(23, []byte("after"))...)
				_, err = sealerRaw.Write(recs)
			}
			done <- err
		}()
		var other *tls.Conn
		if sealerIsServer {
			other = tls.Client(otherRaw, otherCfg)
		} else {
			other = tls.Server(otherRaw, otherCfg)
		}
		got := make([]byte, len("before after"))
		_, rerr := io.ReadFull(other, got)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if rerr != nil || !bytes.Equal(got, []byte("before after")) {
			t.Errorf("sealer server %v: read %q, %v", sealerIsServer, got, rerr)
		}
	}
}

// TestOpen: a Sealer opens what a Sealer of the same suite and secret
// sealed, in order, in each TLS 1.3 suite; a record that does not open
// (one replayed, one under another secret) leaves its sequence number,
// so the next record still opens.
func TestOpen(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	for _, suite := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256} {
		sealer, err := tls13records.NewSealer(suite, secret)
		if err != nil {
			t.Fatal(err)
		}
		opener, err := tls13records.NewSealer(suite, secret)
		if err != nil {
			t.Fatal(err)
		}
		other, err := tls13records.NewSealer(suite, bytes.Repeat([]byte{8}, 32))
		if err != nil {
			t.Fatal(err)
		}
		first := sealer.Seal(23, []byte("first"))
		if got, err := opener.Open(first); err != nil || string(got) != "first\x17" {
			t.Fatalf("suite %#04x: first record opened to %q, %v", suite, got, err)
		}
		for _, bad := range [][]byte{first, other.Seal(23, []byte("other")), first[:4]} {
			if got, err := opener.Open(bad); err == nil {
				t.Fatalf("suite %#04x: a record that should not open opened to %q", suite, got)
			}
		}
		if got, err := opener.Open(sealer.Seal(22, []byte("second"))); err != nil || string(got) != "second\x16" {
			t.Fatalf("suite %#04x: second record opened to %q, %v", suite, got, err)
		}
	}
}
