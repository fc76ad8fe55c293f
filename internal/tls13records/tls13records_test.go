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
		craw, sraw := testnet.TCPPair(t)
		deadline := time.Now().Add(10 * time.Second)
		craw.SetDeadline(deadline)
		sraw.SetDeadline(deadline)
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
