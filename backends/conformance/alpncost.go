package conformance

import (
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
)

// ALPNCost checks that a server handshake of b costs time linear in the
// ALPN IDs of the server and of the client, not in their product: a
// guest's server may accept some 21,000 IDs (65,535 bytes of them) and a
// peer offer as many, and comparing each with each cost a second of CPU
// in one handshake, beyond its context. b, as the server, and a
// crypto/tls client name n IDs each, only their last in common, for 512
// and 4,096, alternated, best of five; the test fails when the larger
// costs more than 16 times the smaller (8 times the IDs; 38 to 40 times
// the time before, 1.4 to 1.7 after). It measures a ratio: not under
// -short.
func ALPNCost(t *testing.T, b backends.Backend) {
	if testing.Short() {
		t.Skip("measures a ratio")
	}
	ca, server := rootAndLeaf(t)
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%x", prefix, i)
		}
		out[n-1] = "common"
		return out
	}
	run := func(n int) time.Duration {
		cRaw, sRaw := net.Pipe()
		defer cRaw.Close()
		defer sRaw.Close()
		s, err := b.Server(sRaw, &backends.ServerConfig{
			Options:    backends.Options{Versions: []uint16{tls.VersionTLS13}, ALPN: ids("s", n)},
			Identities: []*backends.Identity{server.Identity()},
		})
		if err != nil {
			t.Fatal(err)
		}
		c := tls.Client(cRaw, &tls.Config{ServerName: "a.test", RootCAs: ca.Pool(), NextProtos: ids("c", n)})
		return timedPair(t, c.HandshakeContext, s.Handshake, func() error {
			if got := c.ConnectionState().NegotiatedProtocol; got != "common" {
				return fmt.Errorf("ALPN %q, want the one ID in common", got)
			}
			if got := s.State().ALPN; got != "common" {
				return fmt.Errorf("the server reports ALPN %q, want the one ID in common", got)
			}
			return nil
		})
	}
	const small, large = 512, 4096
	const limit = 16
	ratio, bestSmall, bestLarge := timeRatio(limit, func() time.Duration { return run(small) }, func() time.Duration { return run(large) })
	t.Logf("handshake %v with %d ALPN IDs each side, %v with %d (ratio %.1f)", bestSmall, small, bestLarge, large, ratio)
	if ratio > limit {
		t.Errorf("a handshake with %d ALPN IDs each side costs %.1f times one with %d: the IDs are compared pairwise", large, ratio, small)
	}
}
