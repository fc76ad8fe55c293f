package stdtls_test

import (
	"testing"

	"github.com/wasitls/wasitls/backends/conformance"
	"github.com/wasitls/wasitls/backends/stdtls"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, stdtls.Backend{}, conformance.Options{Resumption: true})
}

// TestRepeatedIdentitiesCost: a handshake costs the same however often
// its list of identities names one (see conformance.RepeatedIdentitiesCost).
func TestRepeatedIdentitiesCost(t *testing.T) {
	conformance.RepeatedIdentitiesCost(t, stdtls.Backend{})
}

// TestALPNCost: a server handshake costs time linear in the ALPN IDs of
// either side, not their product (see conformance.ALPNCost).
func TestALPNCost(t *testing.T) {
	conformance.ALPNCost(t, stdtls.Backend{})
}

// TestIdentitiesCAsCost: a client's handshake costs time linear in its
// identities and the server's acceptable CAs, not their product (see
// conformance.IdentitiesCAsCost).
func TestIdentitiesCAsCost(t *testing.T) {
	conformance.IdentitiesCAsCost(t, stdtls.Backend{})
}

// TestIdentitiesParseCost: a client reads its identities' names once, not
// at each certificate request (see conformance.IdentitiesParseCost).
func TestIdentitiesParseCost(t *testing.T) {
	conformance.IdentitiesParseCost(t, stdtls.Backend{})
}
