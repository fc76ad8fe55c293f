package tlshost_test

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestPeerErrorBounded: a server whose certificate names a URI of
// 200 KiB of control characters, which crypto/x509 refuses quoting it
// twice, each byte as four ("x509: cannot parse URI "\x01\x01..."),
// fails the handshakes of a wasm guest client with an error the host
// keeps and logs at most 4 KiB of (MaxErrorText): on both backends, the
// guest's client-last-error is no longer, and the 32 failed connections
// it keeps make the host hold far less than the error each. Before, each
// failed connection kept a 1.6 MB message (8 times the peer's bytes,
// which the peer certificate bytes no longer counted once the handshake
// failed) twice, 3.2 MiB, 100 MiB for the 32, some 13 GiB over the
// default 4,096 TLS connections, and each was logged whole.
func TestGuestPeerErrorBounded(t *testing.T) {
	const uriKiB, warm, n = 200, 4, 32
	port := bigChainServer(t, badURICertificate(t, uriKiB))
	eachBackend(t, func(t *testing.T, backend string) {
		log := &longestWrite{}
		g := startPeerChains(t, tlshost.Config{BackendName: backend, Logger: slog.New(slog.NewTextHandler(log, nil))}, "fail", "localhost", port, fmt.Sprint(warm), fmt.Sprint(n))
		out := g.next(t, "failed: ")
		t.Logf("%d bytes: %.200s", len(out), out)
		if !strings.Contains(out, "URI") {
			t.Errorf("%.300s: want a failure about the certificate's URI", out)
		}
		// "failed: ERROR (last error: REASON)": both bounded.
		if len(out) > 2*tlshost.MaxErrorText+200 {
			t.Errorf("the guest read an error of %d bytes, want at most %d each of the failure and the last error", len(out), tlshost.MaxErrorText)
		}
		g.next(t, "warm ")
		_, grew := g.goMeasured(t, "held ")
		t.Logf("%d failed connections held: host heap grew by %d KiB (%d KiB each)", n, grew>>10, grew/n>>10)
		if bound := int64(n) * 64 << 10; grew > bound {
			t.Errorf("the host's heap grew by %d KiB for %d failed connections the guest holds, want under %d KiB (64 KiB each)", grew>>10, n, bound>>10)
		}
		g.end(t)
		// The handler quotes the message: a byte of it may take four.
		if got := log.longest(); got > 4*tlshost.MaxErrorText+1024 {
			t.Errorf("the host logged a record of %d bytes, want at most 4 times %d for the error quoted and 1 KiB besides", got, tlshost.MaxErrorText)
		}
	})
}

// badURICertificate is a self-signed certificate whose subject
// alternative names are one URI of kib KiB of control characters: IA5
// characters that url.Parse refuses.
func badURICertificate(t *testing.T, kib int) tls.Certificate {
	t.Helper()
	uri := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(strings.Repeat("\x01", kib<<10))}
	san, err := asn1.Marshal([]asn1.RawValue{uri})
	if err != nil {
		t.Fatal(err)
	}
	return selfSigned(t, &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         pkix.Name{CommonName: "localhost"},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(time.Hour),
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san}},
	})
}

// A longestWrite is a log's destination that keeps the length of the
// longest record written to it.
type longestWrite struct {
	mu  sync.Mutex
	max int
}

func (w *longestWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.max = max(w.max, len(p))
	w.mu.Unlock()
	return len(p), nil
}

func (w *longestWrite) longest() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max
}

// TestGuestPostHandshakePeerErrorBounded: a client that answers a wasm
// guest server's post-handshake certificate request (circl-pq, the
// backend that does them) with a certificate naming a URI of 200 KiB of
// control characters fails the request and the connection with a
// message of 1.6 MB, which the backend keeps as its read side's error,
// the request's future as its error, and the cleartext input stream as
// its last error (wasi:io/error's to-debug-string): each at most 4 KiB
// (MaxErrorText) of it. Before, each such connection the guest kept held
// the whole message, 1.6 MB; 32 of them some 50 MiB.
func TestGuestPostHandshakePeerErrorBounded(t *testing.T) {
	const uriKiB, warm, n = 200, 4, 32
	p := newGuestPKI(t)
	bad := badURICertificate(t, uriKiB)
	answer := &backends.Identity{Chain: bad.Certificate, Key: bad.PrivateKey.(crypto.Signer)}
	// No client CAs: the request names none, so that the client sends the
	// certificate it holds, which no CA list could name (its issuer is
	// beyond crypto/x509's parse).
	cfg := tlshost.Config{BackendName: circlpq.Backend{}.Name(),
		Identities: map[string]*backends.Identity{"local": backendIdentity(t, "circl-pq", p.local)}}
	g := startPeerChains(t, cfg, "phafail", "local", fmt.Sprint(warm), fmt.Sprint(n))
	addr := strings.TrimPrefix(g.next(t, "listening on "), "listening on ")
	dial := phaClients(t, addr, p, 60*time.Second, func() *backends.Identity { return answer })
	dial(warm)
	g.next(t, "warm ")
	before := heapAfterGC()
	g.tell("go")
	dial(n)
	out := g.next(t, "phafail: ")
	grew := int64(heapAfterGC()) - int64(before)
	t.Logf("%.400s", out)
	t.Logf("%d failed connections held: host heap grew by %d KiB (%d KiB each)", n, grew>>10, grew/n>>10)
	var reqLen, readLen int
	if _, err := fmt.Sscanf(out, "phafail: request %d, read %d:", &reqLen, &readLen); err != nil {
		t.Fatalf("%.300s: %v", out, err)
	}
	mustContain(t, out, "URI")
	if reqLen > 2*tlshost.MaxErrorText+200 || readLen > tlshost.MaxErrorText+200 {
		t.Errorf("the guest read a request error of %d bytes and a read error of %d, want at most %d (the request's: twice, with the last error)", reqLen, readLen, tlshost.MaxErrorText)
	}
	if bound := int64(n) * 64 << 10; grew > bound {
		t.Errorf("the host's heap grew by %d KiB for %d failed connections the guest holds, want under %d KiB (64 KiB each)", grew>>10, n, bound>>10)
	}
	g.end(t)
}
