package custombackend

import (
	"log/slog"
	"testing"

	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/backends/conformance"
)

// TestConformance runs the suite every backend runs over the allow-list
// backend, as docs/tls.md asks of a backend of your own. The allow-list
// holds the names the suite uses, the address it dials by and "" (a
// ClientHello without server_name, which a client sends for an address).
func TestConformance(t *testing.T) {
	conformance.Run(t, New(nil, suiteNames, slog.New(slog.DiscardHandler)), conformance.Options{Resumption: true})
}

// TestConformanceCirclPQ runs the suite over the allow-list backend
// wrapping circl-pq, declaring what circl-pq does beyond the baseline (as
// its own test does): the wrapper keeps post-handshake client
// authentication, ML-DSA identities and session resumption.
func TestConformanceCirclPQ(t *testing.T) {
	conformance.Run(t, New(circlpq.Backend{}, suiteNames, slog.New(slog.DiscardHandler)),
		conformance.Options{PostHandshakeClientAuth: true, MLDSA: true, Resumption: true})
}

// suiteNames are the server names the conformance suite uses.
var suiteNames = []string{"a.test", "b.test", "c.test", "127.0.0.1", ""}
