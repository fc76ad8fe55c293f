package conformance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// RepeatedIdentitiesCost checks that the handshakes of b cost the same
// however often the list of identities it picks from names one identity:
// a guest's answer to a certificate request, or its server identities,
// may name one identity hundreds of thousands of times within the host's
// settings budget, and trying it again at each place cost the handshake
// that much CPU (with a check against each of the peer's acceptable CAs
// at each place, on the handshake's goroutine, out of reach of its
// context). As a client, b answers a crypto/tls server that requests a
// certificate from 64 CAs, none of which issued the one identity it is
// offered; as a server, b is offered one identity for a name the
// crypto/tls client does not ask for. The handshakes with 1,024 and
// 65,536 references alternate, best of five each; the test fails when
// the larger costs more than 8 times the smaller (1 to 2 times as
// much before repeats were skipped: 14 to 72). It measures a ratio: not
// under -short.
func RepeatedIdentitiesCost(t *testing.T, b backends.Backend) {
	if testing.Short() {
		t.Skip("measures a ratio")
	}
	ca, server := rootAndLeaf(t)
	other, err := testpki.NewCAWith("wasitls other CA", testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	client, err := other.Issue(testpki.LeafOptions{CommonName: "unlisted client", Usage: testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	cas := caPool(t, ca, 64)
	asClient := func(refs []*backends.Identity) time.Duration {
		d, _ := answerUnlisted(t, b, ca, server, cas, refs)
		return d
	}
	asServer := func(refs []*backends.Identity) time.Duration {
		cRaw, sRaw := net.Pipe()
		defer cRaw.Close()
		defer sRaw.Close()
		s, err := b.Server(sRaw, &backends.ServerConfig{Options: tls13(), Identities: refs})
		if err != nil {
			t.Fatal(err)
		}
		c := tls.Client(cRaw, &tls.Config{ServerName: "b.test", InsecureSkipVerify: true})
		return timedPair(t, c.HandshakeContext, s.Handshake, func() error {
			if got := c.ConnectionState().PeerCertificates; len(got) == 0 || !got[0].Equal(server.Cert) {
				return fmt.Errorf("the client did not get the one server identity")
			}
			return nil
		})
	}
	for _, side := range []struct {
		name string
		id   *backends.Identity
		run  func([]*backends.Identity) time.Duration
	}{{"client", client.Identity(), asClient}, {"server", server.Identity(), asServer}} {
		const small, large = 1 << 10, 1 << 16
		refs := make([]*backends.Identity, large)
		for i := range refs {
			refs[i] = side.id
		}
		const limit = 8
		ratio, bestSmall, bestLarge := timeRatio(limit, func() time.Duration { return side.run(refs[:small]) }, func() time.Duration { return side.run(refs) })
		t.Logf("%s: handshake %v with %d references to one identity, %v with %d (ratio %.1f)", side.name, bestSmall, small, bestLarge, large, ratio)
		if ratio > limit {
			t.Errorf("%s: a handshake offered %d references to one identity costs %.1f times one offered %d: each repeat is tried again", side.name, large, ratio, small)
		}
	}
}

// timedPair runs the two handshakes of a pair concurrently, fails t when
// either fails or check does, and returns how long the pair took.
func timedPair(t *testing.T, client, server func(context.Context) error, check func() error) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- server(ctx) }()
	cErr := client(ctx)
	sErr := <-errc
	d := time.Since(start)
	if cErr != nil || sErr != nil {
		t.Fatalf("handshake: client %v, server %v", cErr, sErr)
	}
	if err := check(); err != nil {
		t.Fatal(err)
	}
	return d
}

// caPool is a pool of ca and n-1 other roots with 150-byte names.
func caPool(t testing.TB, ca *testpki.CA, n int) *x509.CertPool {
	return caPoolNamed(t, ca, n, "wasitls listed CA %d "+strings.Repeat("x", 120))
}

// caPoolNamed is a pool of ca and n-1 other roots named by format with
// their number.
func caPoolNamed(t testing.TB, ca *testpki.CA, n int, format string) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for i := 1; i < n; i++ {
		other, err := testpki.NewCAWith(fmt.Sprintf(format, i), testpki.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		pool.AddCert(other.Cert)
	}
	return pool
}

// IdentitiesCAsCost checks that b's client looks up the issuers of the
// identities it is offered among the server's acceptable CAs, rather
// than comparing each with each: a guest may answer a certificate request
// with some 40,000 distinct identities within its identity bytes, and a
// peer name some 20,000 CAs, some 8·10^8 comparisons in one handshake,
// beyond its context. b answers a crypto/tls server that requests a
// certificate from 64 CAs and from 1,024, alternated, best of five, with
// 4,096 identities none of them issued; the test fails when the larger
// costs more than 4 times the smaller (stdtls: 7 before, 1 after;
// circl-pq, whose parsing of each chain at each handshake outweighs it:
// 1.6 before, 1 after). It measures a ratio: not under -short.
func IdentitiesCAsCost(t *testing.T, b backends.Backend) {
	if testing.Short() {
		t.Skip("measures a ratio")
	}
	ca, server := rootAndLeaf(t)
	// The client's issuer has a name as long as the listed CAs': each
	// comparison compares bytes.
	_, leaves := unlistedClients(t, "wasitls unlist 9999", 4096)
	ids := make([]*backends.Identity, len(leaves))
	for i, leaf := range leaves {
		ids[i] = leaf.Identity()
	}
	const small, large = 64, 1024
	run := func(n int) func() time.Duration {
		cas := caPoolNamed(t, ca, n, "wasitls listed %04d")
		return func() time.Duration {
			d, _ := answerUnlisted(t, b, ca, server, cas, ids)
			return d
		}
	}
	const limit = 4
	ratio, bestSmall, bestLarge := timeRatio(limit, run(small), run(large))
	t.Logf("handshake %v with %d acceptable CAs, %v with %d (ratio %.1f), %d identities", bestSmall, small, bestLarge, large, ratio, len(ids))
	if ratio > limit {
		t.Errorf("a handshake with %d acceptable CAs costs %.1f times one with %d: each identity is compared with each CA", large, ratio, small)
	}
}

// IdentitiesParseCost checks that b's client reads the names of the
// identities it is offered once, not at each certificate request: a
// guest may offer some 40,000 identities within its identity bytes, and
// parsing each certificate of each at every request (a server may send
// several per connection) cost some 30 ms a request for 4,096 of them,
// on the handshake's goroutine. b answers a crypto/tls server that
// requests a certificate from 64 CAs with 64 identities and with 4,096,
// alternated, each a leaf and its issuer, none of them issued by those
// CAs, and counts the
// allocations of the handshakes (both sides; the server's are the same
// in both), fewest of five each: the test fails when each identity past
// 64 costs 8 allocations or more (stdtls: 54 before, 2 after; circl-pq:
// 113 before, 1 after).
// The identities are the same at each handshake, as a guest's are at
// each request. It counts what a process does: not under -short.
func IdentitiesParseCost(t *testing.T, b backends.Backend) {
	if testing.Short() {
		t.Skip("counts a process's allocations")
	}
	ca, server := rootAndLeaf(t)
	const small, large = 64, 4096
	other, leaves := unlistedClients(t, "wasitls unlisted", large)
	ids := make([]*backends.Identity, large)
	for i, leaf := range leaves {
		// With the issuer's certificate: a backend that has the leaf
		// parsed still parses the rest of the chain.
		ids[i] = &backends.Identity{Chain: [][]byte{leaf.Chain[0], other.Cert.Raw}, Leaf: leaf.Cert, Key: leaf.Key}
	}
	cas := caPoolNamed(t, ca, small, "wasitls listed %04d")
	run := func(ids []*backends.Identity) func() uint64 {
		return func() uint64 {
			_, allocs := answerUnlisted(t, b, ca, server, cas, ids)
			return allocs
		}
	}
	fewestSmall, fewestLarge := bestOf(run(ids[:small]), run(ids))
	per := (float64(fewestLarge) - float64(fewestSmall)) / (large - small)
	t.Logf("handshake with %d identities: %d allocations, with %d: %d (%.1f an identity past %d)", small, fewestSmall, large, fewestLarge, per, small)
	if per >= 8 {
		t.Errorf("each identity past %d costs a handshake %.1f allocations: its chain is parsed at each request", small, per)
	}
}

// unlistedClients is a root named name, which the cost checks' servers
// do not list, and n client leaves it issued.
func unlistedClients(t *testing.T, name string, n int) (*testpki.CA, []*testpki.Leaf) {
	t.Helper()
	ca, err := testpki.NewCAWith(name, testpki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([]*testpki.Leaf, n)
	for i := range leaves {
		if leaves[i], err = ca.Issue(testpki.LeafOptions{CommonName: fmt.Sprintf("client %d", i), Usage: testpki.ClientAuth}); err != nil {
			t.Fatal(err)
		}
	}
	return ca, leaves
}

// answerUnlisted runs a handshake of b's client, offered ids, with a
// crypto/tls server presenting server (issued by ca) that requests a
// certificate from cas, none of which issued any of ids; it fails t
// unless the handshake completes without a client certificate, and
// returns how long the pair took and how many allocations the process
// made meanwhile (both sides).
func answerUnlisted(t *testing.T, b backends.Backend, ca *testpki.CA, server *testpki.Leaf, cas *x509.CertPool, ids []*backends.Identity) (time.Duration, uint64) {
	t.Helper()
	cRaw, sRaw := net.Pipe()
	defer cRaw.Close()
	defer sRaw.Close()
	s := tls.Server(sRaw, &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{server.TLSCertificate()},
		ClientAuth:   tls.RequestClientCert,
		ClientCAs:    cas,
	})
	c, err := b.Client(cRaw, &backends.ClientConfig{
		ServerName: "a.test",
		RootCAs:    ca.Pool(),
		ClientIdentity: func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
			return ids, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := timedPair(t, c.Handshake, s.HandshakeContext, func() error {
		if n := len(s.ConnectionState().PeerCertificates); n != 0 {
			return fmt.Errorf("the server got a client chain of %d certificates; none fits its CAs", n)
		}
		return nil
	})
	runtime.ReadMemStats(&after)
	return d, after.Mallocs - before.Mallocs
}
