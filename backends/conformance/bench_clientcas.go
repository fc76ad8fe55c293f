package conformance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testpki"
)

// BenchClientCAs measures what a server's acceptable client CAs cost its
// handshakes: full TLS 1.3 handshakes of b as the server, requiring a
// client certificate, with a crypto/tls client presenting one, over
// net.Pipe, against a pool of 5 CAs and one of 500 (whose names, some
// 85 KB, do not fit in the CertificateRequest), alternating in each
// iteration. It reports the time and the bytes allocated per handshake
// of each, and their ratios (500 over 5).
func BenchClientCAs(bm *testing.B, b backends.Backend) {
	ca, leaf := rootAndLeaf(bm)
	client, err := ca.Issue(testpki.LeafOptions{CommonName: "bench client", Usage: testpki.ClientAuth})
	if err != nil {
		bm.Fatal(err)
	}
	few, many := caPool(bm, ca, 5), caPool(bm, ca, 500)
	run := func(pool *x509.CertPool) (time.Duration, uint64) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		alloc := ms.TotalAlloc
		start := time.Now()
		cRaw, sRaw := net.Pipe()
		defer cRaw.Close()
		defer sRaw.Close()
		s, err := b.Server(sRaw, &backends.ServerConfig{
			Options:    backends.Options{Versions: []uint16{tls.VersionTLS13}},
			Identities: []*backends.Identity{leaf.Identity()},
			ClientAuth: backends.RequireClientCert,
			ClientCAs:  pool,
		})
		if err != nil {
			bm.Fatal(err)
		}
		c := tls.Client(cRaw, &tls.Config{ServerName: "a.test", RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLSCertificate()}})
		errc := make(chan error, 1)
		go func() { errc <- s.Handshake(context.Background()) }()
		if err := c.Handshake(); err != nil {
			bm.Fatal(err)
		}
		// TLS 1.3: the server's handshake ends reading the client's
		// Finished, after the client's has ended.
		if err := <-errc; err != nil {
			bm.Fatal(err)
		}
		if st := s.State(); len(st.PeerChain) == 0 {
			bm.Fatal("the server got no client certificate")
		}
		d := time.Since(start)
		runtime.ReadMemStats(&ms)
		return d, ms.TotalAlloc - alloc
	}
	var tFew, tMany time.Duration
	var aFew, aMany uint64
	alternate(bm,
		func() {
			d, a := run(many)
			tMany, aMany = tMany+d, aMany+a
		},
		func() {
			d, a := run(few)
			tFew, aFew = tFew+d, aFew+a
		})
	n := float64(bm.N)
	bm.ReportMetric(float64(tFew.Microseconds())/n, "µs/5CAs-handshake")
	bm.ReportMetric(float64(tMany.Microseconds())/n, "µs/500CAs-handshake")
	bm.ReportMetric(float64(tMany)/float64(tFew), "500/5-time")
	bm.ReportMetric(float64(aFew)/n/1024, "KiB/5CAs-handshake")
	bm.ReportMetric(float64(aMany)/n/1024, "KiB/500CAs-handshake")
	bm.ReportMetric(0, "ns/op") // the pair's time is not meaningful
}
