package circlpq

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// BenchmarkMLDSAHandshake measures full engine handshakes authenticated
// with ML-DSA against the same handshake with an ECDSA P-256 chain, in the
// same run: each iteration runs both, alternating which goes first. The
// server signs CertificateVerify, the client validates the chain (root
// included for ML-DSA, see x509mldsa.go) and checks the signature. Only
// TLS work is timed (net.Pipe, X25519).
//
//	go test -run '^$' -bench MLDSAHandshake ./backends/circl-pq
func BenchmarkMLDSAHandshake(b *testing.B) {
	ecRoot, err := testpki.NewCAWith("bench ECDSA root", testpki.ECDSAP256)
	if err != nil {
		b.Fatal(err)
	}
	ecLeaf, err := ecRoot.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}})
	if err != nil {
		b.Fatal(err)
	}
	base := benchSide{id: ecLeaf.Identity(), roots: ecRoot}
	for _, k := range mldsaKeyTypes {
		root, err := testpki.NewCAWith("bench "+k.String()+" root", k)
		if err != nil {
			b.Fatal(err)
		}
		leaf, err := root.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, Key: k})
		if err != nil {
			b.Fatal(err)
		}
		id := leaf.Identity()
		id.Chain = pqServerChain(leaf, root)
		pq := benchSide{id: id, roots: root}
		b.Run(k.String(), func(b *testing.B) {
			var tBase, tPQ time.Duration
			i := 0
			for b.Loop() {
				if i++; i%2 == 0 {
					tBase += base.handshake(b)
					tPQ += pq.handshake(b)
				} else {
					tPQ += pq.handshake(b)
					tBase += base.handshake(b)
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(tBase.Microseconds())/n, "µs/ecdsa-p256-handshake")
			b.ReportMetric(float64(tPQ.Microseconds())/n, "µs/"+k.String()+"-handshake")
			b.ReportMetric(float64(tPQ)/float64(tBase), k.String()+"/ecdsa-p256-time")
			b.ReportMetric(0, "ns/op")
		})
	}
}

type benchSide struct {
	id    *backends.Identity
	roots *testpki.CA
}

// handshake runs one engine-to-engine handshake and returns its duration.
func (s benchSide) handshake(b *testing.B) time.Duration {
	craw, sraw := net.Pipe()
	defer craw.Close()
	defer sraw.Close()
	opts := backends.Options{Groups: []uint16{X25519}}
	client, err := Client(craw, &backends.ClientConfig{Options: opts, ServerName: "a.test", RootCAs: s.roots.Pool()})
	if err != nil {
		b.Fatal(err)
	}
	server, err := Server(sraw, &backends.ServerConfig{Options: opts, Identities: []*backends.Identity{s.id}})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- server.Handshake(context.Background()) }()
	if err := client.Handshake(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
