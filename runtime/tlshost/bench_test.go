package tlshost

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/runtime/wasiio"
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

// BenchmarkResumption measures what a resumed handshake costs against a
// full one, through the host's sessions on each backend and side: a
// client session against a crypto/tls server, and a server session
// against a crypto/tls client, over loopback TCP. Full and resumed
// handshakes alternate in the same loop; each includes reading one byte,
// which takes the ticket, and the resumed one offers the ticket the
// previous resumed one received. It reports both times and their ratio
// (resumed/full: below 1 is cheaper).
//
//	go test -run '^$' -bench Resumption ./runtime/tlshost
func BenchmarkResumption(b *testing.B) {
	p := newPKI(b)
	for _, name := range backends.Names() {
		backend, err := backends.ByName(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/client", func(b *testing.B) {
			ln := tlsEchoServer(b, &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}})
			cache := backends.NewLRUSessionCache(1)
			once := func(sessions backends.SessionCache) (time.Duration, bool) {
				raw, err := net.Dial("tcp4", ln)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				cs := newClientSession(backend, backends.ClientConfig{RootCAs: p.ca.Pool(), Sessions: sessions}, raw)
				defer cs.Close()
				cs.Connect("localhost")
				return finishAndRead(b, start, cs.Finish())
			}
			resumptionLoop(b, func() (time.Duration, bool) { return once(nil) }, func() (time.Duration, bool) { return once(cache) })
		})
		b.Run(name+"/server", func(b *testing.B) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			keys := newTicketKeys(time.Hour, nil)
			id := &backends.Identity{Chain: p.server.Chain, Key: p.server.Key}
			full := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"}
			resumed := full.Clone()
			resumed.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			once := func(client *tls.Config, ticketKeys func() []backends.TicketKey) (time.Duration, bool) {
				go func() {
					c, err := tls.Dial("tcp4", ln.Addr().String(), client)
					if err != nil {
						return
					}
					io.Copy(c, c) // echo until the server closes
					c.Close()
				}()
				raw, err := ln.Accept()
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				ss := newServerSession(backend, backends.ServerConfig{Identities: []*backends.Identity{id}, TicketKeys: ticketKeys}, raw)
				defer ss.Close()
				ss.Accept()
				f := ss.Finish()
				<-f.Done()
				conn, err, _ := f.peek()
				if err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				// The client reads the ticket before the byte, and echoes it.
				if _, err := conn.Write([]byte{1}); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
					b.Fatal(err)
				}
				return d, conn.State().DidResume
			}
			resumptionLoop(b, func() (time.Duration, bool) { return once(full, nil) },
				func() (time.Duration, bool) { return once(resumed, keys.current) })
		})
	}
}

// tlsEchoServer serves crypto/tls connections with cfg on loopback,
// writing one byte after each handshake, until the benchmark ends.
func tlsEchoServer(b *testing.B, cfg *tls.Config) string {
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := c.Write([]byte{1}); err == nil {
					io.Copy(io.Discard, c)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// finishAndRead waits for a client handshake, timing it from start, and
// reads one byte, which takes the server's ticket.
func finishAndRead(b *testing.B, start time.Time, f *future[backends.Conn]) (time.Duration, bool) {
	<-f.Done()
	conn, err, _ := f.peek()
	if err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
		b.Fatal(err)
	}
	return d, conn.State().DidResume
}

// resumptionLoop alternates full and resumed handshakes, checking that
// each resumed (or not) as it should, and reports their ratio.
func resumptionLoop(b *testing.B, full, resumed func() (time.Duration, bool)) {
	resumed() // the first makes the session
	var tf, tr time.Duration
	i := 0
	for b.Loop() {
		first, second := full, resumed
		if i%2 == 1 {
			first, second = resumed, full
		}
		d1, r1 := first()
		d2, r2 := second()
		if i%2 == 1 {
			d1, r1, d2, r2 = d2, r2, d1, r1
		}
		if r1 || !r2 {
			b.Fatalf("iteration %d: full handshake resumed %v, resumed handshake resumed %v", i, r1, r2)
		}
		tf, tr, i = tf+d1, tr+d2, i+1
	}
	n := float64(i)
	b.ReportMetric(float64(tf.Nanoseconds())/n, "ns-full/op")
	b.ReportMetric(float64(tr.Nanoseconds())/n, "ns-resumed/op")
	b.ReportMetric(float64(tr)/float64(tf), "resumed/full")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPausableCoroutine measures what keeping the guest's coroutines
// between its handshakes (coWorkers) saves: client handshakes on stdtls
// against a crypto/tls server over loopback TCP, each run on waits with a
// deadline (a Go guest's, through its socket's transport), alternately on
// a kept coroutine and on a new one (a session without the guest's set),
// in the same loop. It reports both times, from the transport to the
// server's byte, and their ratio (kept/new: below 1 is cheaper), and the
// goroutines started per handshake of each (the server's own included).
func BenchmarkPausableCoroutine(b *testing.B) {
	p := newPKI(b)
	addr := tlsEchoServer(b, &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}, SessionTicketsDisabled: true})
	workers := newCoWorkers(coWorkerIdle)
	b.Cleanup(func() { workers.Close() })
	base := p.clientBase()
	once := func(w *coWorkers) time.Duration {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		in, out, _ := wasiio.SocketStreams(c.(*net.TCPConn), io.NopCloser(nil), func() error { return nil })
		tr, err := wasiio.Transport(in, out)
		if err != nil {
			b.Fatal(err)
		}
		s := newClientSession(stdtls.Backend{}, base, tr)
		defer s.Close()
		s.setWorkers(w)
		if err := s.Connect("localhost"); err != nil {
			b.Fatal(err)
		}
		f := s.Finish()
		a := f.source().(wasiio.Awaiter)
		for !a.Ready() {
			a.Await(context.Background(), time.Now().Add(10*time.Millisecond))
		}
		conn, err, _ := f.peek()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	// Goroutines started, the server's per connection among them.
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	started := func() uint64 { metrics.Read(created); return created[0].Value.Uint64() }
	var kept, fresh time.Duration
	var gKept, gFresh uint64
	timed := func(w *coWorkers, d *time.Duration, g *uint64) {
		g0 := started()
		*d += once(w)
		*g += started() - g0
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			timed(workers, &kept, &gKept)
			timed(nil, &fresh, &gFresh)
		} else {
			timed(nil, &fresh, &gFresh)
			timed(workers, &kept, &gKept)
		}
		i++
	}
	n := float64(i)
	b.ReportMetric(float64(kept.Nanoseconds())/n, "ns-kept/op")
	b.ReportMetric(float64(fresh.Nanoseconds())/n, "ns-new/op")
	b.ReportMetric(float64(gKept)/n, "goroutines-kept/op")
	b.ReportMetric(float64(gFresh)/n, "goroutines-new/op")
	b.ReportMetric(float64(kept)/float64(fresh), "kept/new")
	b.ReportMetric(0, "ns/op")
}
