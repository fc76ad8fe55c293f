package conformance

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// Bench measures b against crypto/tls in the same run: full TLS 1.3
// handshakes (default groups, ECDSA P-256 server certificate, no client
// certificate) and one-way bulk throughput, both over net.Pipe so that only
// TLS work is measured. Each iteration runs the baseline and the backend
// back to back, alternating which goes first; the reported metrics are the time or rate of each and their
// ratio (backend/baseline for time, so above 1 means slower).
func Bench(bm *testing.B, b backends.Backend) {
	ca, leaf := rootAndLeaf(bm)
	pair := &benchPair{b: b, leaf: leaf, ca: ca}

	bm.Run("Handshake", func(bm *testing.B) {
		var base, under time.Duration
		alternate(bm,
			func() { base += pair.handshakeTime(bm, false) },
			func() { under += pair.handshakeTime(bm, true) })
		n := float64(bm.N)
		bm.ReportMetric(float64(base.Microseconds())/n, "µs/crypto-tls-handshake")
		bm.ReportMetric(float64(under.Microseconds())/n, "µs/"+b.Name()+"-handshake")
		bm.ReportMetric(float64(under)/float64(base), b.Name()+"/crypto-tls-time")
		bm.ReportMetric(0, "ns/op") // the pair's time is not meaningful
	})

	bm.Run("Throughput", func(bm *testing.B) {
		const chunk = 256 << 10
		baseC, baseS, closeBase := pair.connect(bm, false)
		underC, underS, closeUnder := pair.connect(bm, true)
		defer closeBase()
		defer closeUnder()
		buf := make([]byte, chunk)
		var base, under time.Duration
		alternate(bm,
			func() { base += transfer(bm, baseC, baseS, buf) },
			func() { under += transfer(bm, underC, underS, buf) })
		mb := float64(chunk) * float64(bm.N) / 1e6
		bm.ReportMetric(mb/base.Seconds(), "MB/s-crypto-tls")
		bm.ReportMetric(mb/under.Seconds(), "MB/s-"+b.Name())
		bm.ReportMetric(float64(under)/float64(base), b.Name()+"/crypto-tls-time")
		bm.ReportMetric(0, "ns/op")
	})
}

// alternate runs a and b once each per iteration of bm's loop,
// alternating which goes first, so that neither always runs on a warmer
// cache: b first in odd iterations, a first in even ones.
func alternate(bm *testing.B, a, b func()) {
	i := 0
	for bm.Loop() {
		if i++; i%2 == 0 {
			a()
			b()
		} else {
			b()
			a()
		}
	}
}

type benchPair struct {
	b    backends.Backend
	leaf *testpki.Leaf
	ca   *testpki.CA
}

type rwc interface {
	io.ReadWriteCloser
	Handshake(context.Context) error
}

type goBench struct{ *tls.Conn }

func (g goBench) Handshake(ctx context.Context) error { return g.HandshakeContext(ctx) }

// connect returns a handshaken client and server, through the backend under
// test or through crypto/tls.
// Closing the transports releases both: closing a TLS end would try to send
// close_notify into a pipe nobody reads.
func (p *benchPair) connect(bm *testing.B, backend bool) (client, server rwc, closeAll func()) {
	cRaw, sRaw := net.Pipe()
	closeAll = func() { cRaw.Close(); sRaw.Close() }
	if backend {
		c, err := p.b.Client(cRaw, &backends.ClientConfig{ServerName: "a.test", RootCAs: p.ca.Pool()})
		if err != nil {
			bm.Fatal(err)
		}
		s, err := p.b.Server(sRaw, &backends.ServerConfig{Identities: []*backends.Identity{p.leaf.Identity()}})
		if err != nil {
			bm.Fatal(err)
		}
		client, server = c, s
	} else {
		client = goBench{tls.Client(cRaw, &tls.Config{ServerName: "a.test", RootCAs: p.ca.Pool()})}
		server = goBench{tls.Server(sRaw, &tls.Config{Certificates: []tls.Certificate{p.leaf.TLSCertificate()},
			SessionTicketsDisabled: true})}
	}
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake(ctx) }()
	if err := client.Handshake(ctx); err != nil {
		bm.Fatal(err)
	}
	if err := <-errc; err != nil {
		bm.Fatal(err)
	}
	return client, server, closeAll
}

func (p *benchPair) handshakeTime(bm *testing.B, backend bool) time.Duration {
	start := time.Now()
	_, _, closeAll := p.connect(bm, backend)
	d := time.Since(start)
	closeAll()
	return d
}

// transfer writes buf from client to server and returns how long it took.
func transfer(bm *testing.B, client, server rwc, buf []byte) time.Duration {
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		_, err := client.Write(buf)
		errc <- err
	}()
	if _, err := io.ReadFull(server, buf); err != nil {
		bm.Fatal(err)
	}
	if err := <-errc; err != nil {
		bm.Fatal(err)
	}
	return time.Since(start)
}
