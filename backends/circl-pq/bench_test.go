package circlpq

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks compare the engine with crypto/tls in the same run and print
// the ratios: run with
//
//	go test -run '^$' -bench . -benchtime 2s ./backends/circl-pq
//
// A ratio above 1 means the engine is faster.

// benchGroups are the groups benchmarked; those crypto/tls lacks run on
// the engine only.
var benchGroups = []uint16{X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, MLKEM512, MLKEM768, MLKEM1024, X25519, P256, P384}

// hasGo reports whether crypto/tls implements a group.
func hasGo(g uint16) bool {
	for _, x := range goGroups {
		if x == g {
			return true
		}
	}
	return false
}

// handshakeOnce runs one full handshake, client and server in this
// process, over an in-memory pipe.
type handshaker func() error

func engineHandshaker(b *testing.B, group uint16) handshaker {
	p := pki(b)
	ccfg := p.clientConfig()
	ccfg.Groups = []uint16{group}
	scfg := p.serverConfig(p.p256)
	scfg.Groups = []uint16{group}
	return func() error {
		craw, sraw := net.Pipe()
		defer craw.Close()
		defer sraw.Close()
		c, _ := Client(craw, ccfg)
		s, _ := Server(sraw, scfg)
		cerr, serr := both(func() error { return c.Handshake(context.Background()) },
			func() error { return s.Handshake(context.Background()) })
		if cerr != nil || serr != nil {
			return fmt.Errorf("client %v, server %v", cerr, serr)
		}
		return nil
	}
}

func goHandshaker(b *testing.B, group uint16) handshaker {
	p := pki(b)
	ccfg := p.goClientConfig()
	ccfg.CurvePreferences = []tls.CurveID{tls.CurveID(group)}
	scfg := p.goServerConfig(p.p256)
	scfg.CurvePreferences = []tls.CurveID{tls.CurveID(group)}
	// The engine sends no tickets; neither does crypto/tls here.
	scfg.SessionTicketsDisabled = true
	return func() error {
		craw, sraw := net.Pipe()
		defer craw.Close()
		defer sraw.Close()
		c, s := tls.Client(craw, ccfg), tls.Server(sraw, scfg)
		cerr, serr := both(func() error { return c.HandshakeContext(context.Background()) },
			func() error { return s.HandshakeContext(context.Background()) })
		if cerr != nil || serr != nil {
			return fmt.Errorf("client %v, server %v", cerr, serr)
		}
		return nil
	}
}

// ratios collects the ns/op of the last run of each sub-benchmark.
type ratios struct {
	mu sync.Mutex
	ns map[string]float64
}

func (r *ratios) record(b *testing.B, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ns == nil {
		r.ns = map[string]float64{}
	}
	r.ns[key] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

func (r *ratios) get(key string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ns[key]
}

// BenchmarkHandshake measures full handshakes per second per group (ECDSA
// P-256 server certificate, chain validation on), and the engine against
// crypto/tls where both have the group.
func BenchmarkHandshake(b *testing.B) {
	var r ratios
	for _, g := range benchGroups {
		impls := []struct {
			name string
			h    func(*testing.B, uint16) handshaker
		}{{"circl-pq", engineHandshaker}}
		if hasGo(g) {
			impls = append(impls, struct {
				name string
				h    func(*testing.B, uint16) handshaker
			}{"crypto-tls", goHandshaker})
		}
		for _, impl := range impls {
			key := groupName(g) + "/" + impl.name
			b.Run(key, func(b *testing.B) {
				h := impl.h(b, g)
				b.ResetTimer()
				for range b.N {
					if err := h(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
				r.record(b, key)
			})
		}
	}
	for _, g := range benchGroups {
		e := r.get(groupName(g) + "/circl-pq")
		if e == 0 {
			continue
		}
		line := fmt.Sprintf("handshake %-20s circl-pq %8.0f/s", groupName(g), 1e9/e)
		if s := r.get(groupName(g) + "/crypto-tls"); s != 0 {
			line += fmt.Sprintf("   crypto/tls %8.0f/s   ratio %.2fx", 1e9/s, s/e)
		}
		fmt.Println(line)
	}
}

// BenchmarkBulk measures one-way bulk transfer over loopback TCP on
// AES-128-GCM, the engine against crypto/tls.
func BenchmarkBulk(b *testing.B) {
	const chunk = 64 << 10
	var r ratios
	for _, impl := range []string{"circl-pq", "crypto-tls"} {
		b.Run("AES-128-GCM/"+impl, func(b *testing.B) {
			w, rd, reads := bulkPair(b, impl)
			buf := make([]byte, chunk)
			done := make(chan error, 1)
			go func() {
				in := make([]byte, chunk)
				var err error
				for n := 0; n < b.N*chunk && err == nil; {
					var m int
					m, err = rd.Read(in)
					n += m
				}
				done <- err
			}()
			b.SetBytes(chunk)
			b.ResetTimer()
			for range b.N {
				if _, err := w.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			// Records of the largest size the reader took in, per
			// transport Read.
			b.ReportMetric(float64(reads.Load())/(float64(b.N)*chunk/maxPlaintext), "reads/record")
			r.record(b, impl)
		})
	}
	e, s := r.get("circl-pq"), r.get("crypto-tls")
	if e != 0 && s != 0 {
		fmt.Printf("bulk AES-128-GCM: circl-pq %.0f MB/s, crypto/tls %.0f MB/s, ratio %.2fx\n",
			chunk/e*1e3, chunk/s*1e3, s/e)
	}
}

// bulkPair returns a connected writer and reader of one implementation,
// on AES-128-GCM over loopback TCP, and the count of the reader's
// transport Reads.
func bulkPair(b *testing.B, impl string) (w io.Writer, r io.Reader, reads *atomic.Int64) {
	p := pki(b)
	craw, sraw0 := tcpPair(b)
	craw.SetDeadline(time.Time{})
	sraw0.SetDeadline(time.Time{})
	sraw := &countingConn{Conn: sraw0}
	reads = &sraw.reads
	if impl == "crypto-tls" {
		scfg := p.goServerConfig(p.p256)
		scfg.SessionTicketsDisabled = true
		c, s := tls.Client(craw, p.goClientConfig()), tls.Server(sraw, scfg)
		// crypto/tls prefers AES-GCM on machines with AES hardware; the
		// engine is pinned to AES-128-GCM below.
		if cerr, serr := both(func() error { return c.Handshake() }, func() error { return s.Handshake() }); cerr != nil || serr != nil {
			b.Fatal(cerr, serr)
		}
		if c.ConnectionState().CipherSuite != tls.TLS_AES_128_GCM_SHA256 {
			b.Skipf("crypto/tls negotiated %s", tls.CipherSuiteName(c.ConnectionState().CipherSuite))
		}
		return c, s, reads
	}
	ccfg := p.clientConfig()
	ccfg.CipherSuites = []uint16{TLS_AES_128_GCM_SHA256}
	c, _ := Client(craw, ccfg)
	s, _ := Server(sraw, p.serverConfig(p.p256))
	if cerr, serr := both(func() error { return c.Handshake(context.Background()) },
		func() error { return s.Handshake(context.Background()) }); cerr != nil || serr != nil {
		b.Fatal(cerr, serr)
	}
	return c, s, reads
}

// countingConn counts the Reads of its connection.
type countingConn struct {
	net.Conn
	reads atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

// BenchmarkResumedHandshake measures resumed handshakes (psk_dhe_ke) on
// X25519MLKEM768, each followed by one byte from the server so the client
// takes in its next ticket, the engine against crypto/tls.
func BenchmarkResumedHandshake(b *testing.B) {
	p := pki(b)
	var r ratios
	for _, impl := range []string{"circl-pq", "crypto-tls"} {
		b.Run("X25519MLKEM768/"+impl, func(b *testing.B) {
			var once func() (resumed bool, err error)
			if impl == "circl-pq" {
				cache := NewSessionCache(1)
				ccfg := p.clientConfig()
				scfg := p.serverConfig(p.p256)
				once = func() (bool, error) {
					craw, sraw := net.Pipe()
					defer craw.Close()
					defer sraw.Close()
					c, _ := Client(craw, ccfg)
					c.SetSessionCache(cache)
					s, _ := Server(sraw, scfg)
					err := roundTrip(func() error { return c.Handshake(context.Background()) }, c,
						func() error { return s.Handshake(context.Background()) }, s)
					return c.State().DidResume, err
				}
			} else {
				ccfg := p.goClientConfig()
				ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
				ccfg.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768}
				scfg := p.goServerConfig(p.p256)
				once = func() (bool, error) {
					craw, sraw := net.Pipe()
					defer craw.Close()
					defer sraw.Close()
					c, s := tls.Client(craw, ccfg), tls.Server(sraw, scfg)
					err := roundTrip(func() error { return c.HandshakeContext(context.Background()) }, c,
						func() error { return s.HandshakeContext(context.Background()) }, s)
					return c.ConnectionState().DidResume, err
				}
			}
			if _, err := once(); err != nil { // the first, full handshake
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				resumed, err := once()
				if err != nil || !resumed {
					b.Fatalf("resumed %v, %v", resumed, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
			r.record(b, impl)
		})
	}
	if e, s := r.get("circl-pq"), r.get("crypto-tls"); e != 0 && s != 0 {
		fmt.Printf("resumed handshake X25519MLKEM768: circl-pq %.0f/s, crypto/tls %.0f/s, ratio %.2fx\n", 1e9/e, 1e9/s, s/e)
	}
}

// roundTrip runs both handshakes, then has the server send one byte for the
// client to read.
func roundTrip(client func() error, c io.Reader, server func() error, s io.Writer) error {
	cerr, serr := both(func() error {
		if err := client(); err != nil {
			return err
		}
		_, err := io.ReadFull(c, make([]byte, 1))
		return err
	}, func() error {
		if err := server(); err != nil {
			return err
		}
		_, err := s.Write([]byte{1})
		return err
	})
	if cerr != nil || serr != nil {
		return fmt.Errorf("client %v, server %v", cerr, serr)
	}
	return nil
}
