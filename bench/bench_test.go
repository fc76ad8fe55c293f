package bench

import (
	"crypto/tls"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
)

var (
	chunkFlag     = flag.Int("bench.chunk", 1<<20, "bytes per bulk benchmark iteration, for the baseline and the subject each")
	idleConnsFlag = flag.Int("bench.idle", 200, "idle connections per idle benchmark iteration")
)

func TestMain(m *testing.M) {
	RunChildIfRequested()
	code := m.Run()
	if shared != nil {
		shared.close()
	}
	os.Exit(code)
}

var (
	sharedOnce sync.Once
	shared     *env
	sharedErr  error
)

// benchEnv returns the environment the benchmarks share (one guest build,
// one runtime per backend).
func benchEnv(b testing.TB) *env {
	b.Helper()
	sharedOnce.Do(func() { shared, sharedErr = newEnv() })
	if sharedErr != nil {
		b.Fatal(sharedErr)
	}
	return shared
}

// benchSubjects are the subjects measured against native crypto/tls.
func benchSubjects() []subject {
	var out []subject
	for _, name := range backends.Names() {
		out = append(out, wasiSubject(name))
	}
	return append(out, inGuestSubject("stdtls"))
}

func subjectKey(s subject) string {
	if s.impl == implGo {
		return "in-guest"
	}
	return s.backend
}

// alternate runs base and sub once each, alternating which goes first so
// that neither always runs on a warmer cache.
func alternate(b *testing.B, i int, base, sub func() (time.Duration, error)) (time.Duration, time.Duration) {
	first, second := base, sub
	if i%2 == 1 {
		first, second = sub, base
	}
	d1, err := first()
	if err != nil {
		b.Fatal(err)
	}
	d2, err := second()
	if err != nil {
		b.Fatal(err)
	}
	if i%2 == 1 {
		return d2, d1
	}
	return d1, d2
}

// report sets the metrics of a baseline-against-subject benchmark: the
// time per unit of each and the subject's speed relative to native.
func report(b *testing.B, units float64, unit string, base, sub time.Duration) {
	b.ReportMetric(float64(base.Nanoseconds())/units, "ns/"+unit+"-native")
	b.ReportMetric(float64(sub.Nanoseconds())/units, "ns/"+unit)
	b.ReportMetric(float64(base)/float64(sub), "x-native-speed")
	b.ReportMetric(0, "ns/op") // the pair's time is not meaningful
}

// BenchmarkBulk transfers -bench.chunk bytes per iteration over an
// established connection, native crypto/tls and the subject in turn.
func BenchmarkBulk(b *testing.B) {
	e := benchEnv(b)
	group := tls.X25519MLKEM768
	for _, dir := range []string{"upload", "download"} {
		for _, w := range []int{16 << 10, 64 << 10} {
			for _, sub := range benchSubjects() {
				b.Run(dir+"/"+strings.ReplaceAll(sizeName(w), " ", "")+"/"+subjectKey(sub), func(b *testing.B) {
					base, err := e.openSession(localPeer{e}, nativeSubject(), group)
					if err != nil {
						b.Fatal(err)
					}
					defer base.close()
					s, err := e.openSession(localPeer{e}, sub, group)
					if err != nil {
						b.Fatal(err)
					}
					defer s.close()
					n := uint64(*chunkFlag)
					xfer := func(sess *session) func() (time.Duration, error) {
						if dir == "upload" {
							return func() (time.Duration, error) { return sess.upload(n, w) }
						}
						return func() (time.Duration, error) { return sess.download(n, w) }
					}
					var tb, ts time.Duration
					i := 0
					b.SetBytes(int64(n))
					for b.Loop() {
						db, ds := alternate(b, i, xfer(base), xfer(s))
						tb, ts, i = tb+db, ts+ds, i+1
					}
					mb := float64(n) * float64(i) / 1e6
					b.ReportMetric(mb/tb.Seconds(), "MB/s-native")
					b.ReportMetric(mb/ts.Seconds(), "MB/s")
					b.ReportMetric(float64(tb)/float64(ts), "x-native-speed")
					b.ReportMetric(0, "ns/op")
				})
			}
		}
	}
}

// BenchmarkHandshake runs full handshakes (a batch of 4 per iteration for
// each side), the subject as client against a native server and as server
// against native clients, against native to native.
func BenchmarkHandshake(b *testing.B) {
	const batch = 4
	e := benchEnv(b)
	for _, group := range []tls.CurveID{tls.X25519MLKEM768, tls.X25519} {
		for _, side := range []string{"client", "server"} {
			for _, sub := range benchSubjects() {
				b.Run(group.String()+"/"+side+"/"+subjectKey(sub), func(b *testing.B) {
					open := e.clientHandshaker
					if side == "server" {
						open = e.serverHandshaker
					}
					base, err := open(localPeer{e}, nativeSubject(), group)
					if err != nil {
						b.Fatal(err)
					}
					defer base.close()
					h, err := open(localPeer{e}, sub, group)
					if err != nil {
						b.Fatal(err)
					}
					defer h.close()
					if _, err := h.run(batch); err != nil { // warm up
						b.Fatal(err)
					}
					var tb, ts time.Duration
					i := 0
					for b.Loop() {
						db, ds := alternate(b, i,
							func() (time.Duration, error) { return base.run(batch) },
							func() (time.Duration, error) { return h.run(batch) })
						tb, ts, i = tb+db, ts+ds, i+1
					}
					report(b, float64(i*batch), "handshake", tb, ts)
				})
			}
		}
	}
}

// BenchmarkEcho makes 100 one-byte round trips per iteration for each side.
func BenchmarkEcho(b *testing.B) {
	const batch = 100
	e := benchEnv(b)
	for _, sub := range benchSubjects() {
		b.Run(subjectKey(sub), func(b *testing.B) {
			base, err := e.openSession(localPeer{e}, nativeSubject(), tls.X25519MLKEM768)
			if err != nil {
				b.Fatal(err)
			}
			defer base.close()
			s, err := e.openSession(localPeer{e}, sub, tls.X25519MLKEM768)
			if err != nil {
				b.Fatal(err)
			}
			defer s.close()
			var tb, ts time.Duration
			i := 0
			for b.Loop() {
				db, ds := alternate(b, i,
					func() (time.Duration, error) { return base.echo(batch) },
					func() (time.Duration, error) { return s.echo(batch) })
				tb, ts, i = tb+db, ts+ds, i+1
			}
			report(b, float64(i*batch), "roundtrip", tb, ts)
		})
	}
}

// BenchmarkIdle has a server hold -bench.idle idle connections from a
// child process per iteration and reports the memory they cost.
func BenchmarkIdle(b *testing.B) {
	e := benchEnv(b)
	subs := []subject{nativeSubject()}
	for _, name := range backends.Names() {
		subs = append(subs, wasiSubject(name))
	}
	for _, sub := range subs {
		key := "native"
		if !sub.native {
			key = sub.backend
		}
		b.Run(key, func(b *testing.B) {
			var res *IdleResult
			for b.Loop() {
				var err error
				if res, err = e.idle(sub, *idleConnsFlag, tls.X25519MLKEM768); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(res.HostHeapPerConn, "host-heap-B/conn")
			b.ReportMetric(res.HostStackPerConn, "host-stack-B/conn")
			b.ReportMetric(res.LinearPerConn, "guest-mem-B/conn")
			b.ReportMetric(res.GoroutinesPer, "goroutines/conn")
			b.ReportMetric(0, "ns/op")
		})
	}
}
