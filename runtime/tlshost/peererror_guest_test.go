package tlshost_test

import (
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
