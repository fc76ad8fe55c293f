package circlpq_test

import (
	"testing"

	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
	"github.com/wasitls/wasitls/backends/conformance"
)

// TestConformance runs the shared backend conformance suite: the engine on
// both ends, and against crypto/tls in both directions.
func TestConformance(t *testing.T) {
	conformance.Run(t, circlpq.Backend{}, conformance.Options{PostHandshakeClientAuth: true, MLDSA: true, Resumption: true})
}

// BenchmarkClientCAs compares server handshakes requiring a client
// certificate with 500 acceptable CAs and with 5.
func BenchmarkClientCAs(b *testing.B) {
	conformance.BenchClientCAs(b, circlpq.Backend{})
}

// TestRepeatedIdentitiesCost: a handshake costs the same however often
// its list of identities names one (see conformance.RepeatedIdentitiesCost).
func TestRepeatedIdentitiesCost(t *testing.T) {
	conformance.RepeatedIdentitiesCost(t, circlpq.Backend{})
}

// TestALPNCost: a server handshake costs time linear in the ALPN IDs of
// either side, not their product (see conformance.ALPNCost).
func TestALPNCost(t *testing.T) {
	conformance.ALPNCost(t, circlpq.Backend{})
}

// TestIdentitiesCAsCost: a client's handshake costs time linear in its
// identities and the server's acceptable CAs, not their product (see
// conformance.IdentitiesCAsCost).
func TestIdentitiesCAsCost(t *testing.T) {
	conformance.IdentitiesCAsCost(t, circlpq.Backend{})
}

// TestIdentitiesParseCost: a client reads its identities' names once, not
// at each certificate request (see conformance.IdentitiesParseCost).
func TestIdentitiesParseCost(t *testing.T) {
	conformance.IdentitiesParseCost(t, circlpq.Backend{})
}
