package tlshost

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
)

// BenchmarkHandshakeOverhead measures what the direct-style state machine
// costs on top of the backend: the same crypto/tls server, once against a
// plain crypto/tls client (the baseline) and once against a client session
// on stdtls that suspends at verify-server-identity and then finishes, as a
// showcase guest does. It reports both per-handshake times and their ratio.
//
//	go test -run '^$' -bench HandshakeOverhead ./runtime/tlshost
func BenchmarkHandshakeOverhead(b *testing.B) {
	p := newPKI(b)
	serverCfg := &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}}
	serve := func(c net.Conn) {
		go func() {
			tls.Server(c, serverCfg).Handshake()
			c.Close()
		}()
	}
	var base, sess time.Duration
	for b.Loop() {
		// Baseline: crypto/tls on both ends.
		c, s := net.Pipe()
		serve(s)
		start := time.Now()
		if err := tls.Client(c, &tls.Config{ServerName: "localhost", RootCAs: p.ca.Pool()}).Handshake(); err != nil {
			b.Fatal(err)
		}
		base += time.Since(start)
		c.Close()

		// The session, with one suspension point.
		c, s = net.Pipe()
		serve(s)
		start = time.Now()
		cs := newClientSession(stdtls.Backend{}, backends.ClientConfig{RootCAs: p.ca.Pool()}, c)
		cs.Connect("localhost")
		vf, _ := cs.VerifyServerIdentity()
		<-vf.Done()
		f := cs.Finish()
		<-f.Done()
		if _, err, _ := f.peek(); err != nil {
			b.Fatal(err)
		}
		sess += time.Since(start)
		cs.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(base.Nanoseconds())/n, "ns-baseline/op")
	b.ReportMetric(float64(sess.Nanoseconds())/n, "ns-session/op")
	b.ReportMetric(float64(sess)/float64(base), "session/baseline")
}
