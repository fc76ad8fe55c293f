package bench

import (
	"crypto/tls"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime/component"
)

// cComponent builds the C guest as a component (once per process) and
// gives it to e: clang and wasi-libc as for the core module, then its
// world embedded and `jco new --wasi-command`, whose preview1 adapter
// serves what wasi-libc imports. A missing tool skips the benchmark, and
// fails it under CI.
func cComponent(b testing.TB, e *env) {
	b.Helper()
	cguest.Require(b)
	if e.cwasm == nil {
		b.Fatal(e.cErr)
	}
	var deps []string
	for _, n := range []string{"io", "clocks", "sockets", "tls-draft"} {
		deps = append(deps, filepath.Join("..", "wit", "deps", n))
	}
	wasm := cguest.Build(b, cguest.Spec{
		Sources: []string{"cguest/cguest.c"},
		CFlags:  []string{"-mexec-model=reactor", "-Wall", "-Werror"},
		WIT:     "cguest/cguest.wit", World: "cguest", WITDeps: deps,
		Adapter: cguest.Command,
	})
	c, err := component.Parse(wasm)
	if err != nil {
		b.Fatal(err)
	}
	e.mu.Lock()
	e.ccomp = c
	e.mu.Unlock()
}

// TestCComponent runs the C guest as a component on each backend: a
// handshake with the native server and 1 MiB each way.
func TestCComponent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs guests; skipped in -short mode")
	}
	e := benchEnv(t)
	cComponent(t, e)
	for _, backend := range backends.Names() {
		sess, err := e.openSession(localPeer{e}, cComponentSubject(backend), tls.X25519MLKEM768)
		if err != nil {
			t.Fatalf("%s: %v", backend, err)
		}
		if _, err := sess.upload(1<<20, 16<<10); err != nil {
			t.Fatalf("%s: upload: %v", backend, err)
		}
		if _, err := sess.download(1<<20, 16<<10); err != nil {
			t.Fatalf("%s: download: %v", backend, err)
		}
		if err := sess.close(); err != nil {
			t.Fatalf("%s: close: %v", backend, err)
		}
	}
}

// bulkPair opens a session of the C guest as a core module and one of
// it as a component on backend.
func bulkPair(tb testing.TB, e *env, backend string) (core, comp *session) {
	tb.Helper()
	open := func(s subject) *session {
		sess, err := e.openSession(localPeer{e}, s, tls.X25519MLKEM768)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { sess.close() })
		return sess
	}
	return open(cSubject(backend)), open(cComponentSubject(backend))
}

// bulkRatio moves -bench.chunk bytes per iteration in direction dir
// ("upload" or "download") in 16 KiB writes, core module and component
// alternated, and reports the component's CPU time over the core
// module's, counting the whole process (guest, host and the in-process
// peer, whose share is the same for both) and not other work on the
// machine, and the same ratio of elapsed time.
func bulkRatio(core, comp *session, dir string) func(*testing.B) {
	return bulkPairRatio(core, comp, "core", "component", dir)
}

// bulkPairRatio is bulkRatio for any two sessions, named aName and
// bName in the metrics: second's time over first's.
func bulkPairRatio(first, second *session, aName, bName, dir string) func(*testing.B) {
	const w = 16 << 10
	return func(b *testing.B) {
		n := uint64(*chunkFlag)
		var cpu [2]time.Duration
		cpuOK := true
		xfer := func(s *session, k int) func() (time.Duration, error) {
			return func() (time.Duration, error) {
				c0, ok0 := processCPU()
				var d time.Duration
				var err error
				if dir == "upload" {
					d, err = s.upload(n, w)
				} else {
					d, err = s.download(n, w)
				}
				c1, ok1 := processCPU()
				cpu[k] += c1 - c0
				cpuOK = cpuOK && ok0 && ok1
				return d, err
			}
		}
		var tA, tB time.Duration
		i := 0
		b.SetBytes(int64(n))
		for b.Loop() {
			dc, dm := alternate(b, i, xfer(first, 0), xfer(second, 1))
			tA, tB, i = tA+dc, tB+dm, i+1
		}
		mb := float64(n) * float64(i) / 1e6
		b.ReportMetric(mb/tA.Seconds(), "MB/s-"+aName)
		b.ReportMetric(mb/tB.Seconds(), "MB/s-"+bName)
		if cpuOK {
			b.ReportMetric(float64(cpu[1])/float64(cpu[0]), bName+"/"+aName+"-cpu")
		}
		b.ReportMetric(float64(tB)/float64(tA), bName+"/"+aName+"-wall")
		b.ReportMetric(0, "ns/op")
	}
}

// BenchmarkComponentBulk measures what a component costs over the same
// program as a core module on bulk TLS: the C guest (cguest/cguest.c) as
// the core module the bench command runs and as a component built from
// it, each a wasi:tls client of the native server over loopback
// (bulkRatio), upload and download on each backend.
func BenchmarkComponentBulk(b *testing.B) {
	e := benchEnv(b)
	cComponent(b, e)
	for _, dir := range []string{"upload", "download"} {
		for _, backend := range backends.Names() {
			b.Run(dir+"/"+strings.ReplaceAll(backend, "-", ""), func(b *testing.B) {
				core, comp := bulkPair(b, e, backend)
				bulkRatio(core, comp, dir)(b)
			})
		}
	}
}

// BenchmarkComponentChecks measures what the stop flag gains a
// component over wazero's termination checks on bulk TLS: the C guest as
// a component, each a wasi:tls client of the native server over loopback,
// on a runtime with the stop flag (as the bench command and wasitls run
// run components) and on one under wazero's checks (-checks wazero),
// alternated (bulkPairRatio: checks/stopflag-cpu above 1 is the gain),
// upload and download on each backend.
func BenchmarkComponentChecks(b *testing.B) {
	e := benchEnv(b)
	cComponent(b, e)
	for _, dir := range []string{"upload", "download"} {
		for _, backend := range backends.Names() {
			b.Run(dir+"/"+strings.ReplaceAll(backend, "-", ""), func(b *testing.B) {
				open := func(s subject) *session {
					sess, err := e.openSession(localPeer{e}, s, tls.X25519MLKEM768)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { sess.close() })
					return sess
				}
				checked := cComponentSubject(backend)
				checked.checks = ChecksWazero
				stop, checks := open(cComponentSubject(backend)), open(checked)
				bulkPairRatio(stop, checks, "stopflag", "checks", dir)(b)
			})
		}
	}
}

var ratios = flag.Bool("ratios", false, "TestComponentBulkRatio prints its ratio lines and holds them to the limit itself")

// TestComponentBulkRatio holds a component's cost over the same program
// as a core module, on bulk TLS (bulkRatio's process CPU time), to the
// 1.1 the README quotes, on each backend and direction. A slow run on a
// busy machine is retried and the best of up to three counts. In a plain
// go test it fails only past twice the limit, so a shared machine never
// fails it; with -ratios it prints one "ratio" line each and holds it to
// the limit:
//
//	go test ./bench -run ComponentBulkRatio -ratios -v
func TestComponentBulkRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs guests; skipped in -short mode")
	}
	if _, ok := processCPU(); !ok {
		t.Skip("process CPU time is not read on this platform")
	}
	const limit = 1.1
	bound, what := 2*limit, "twice the limit"
	if *ratios {
		bound, what = limit, "the limit"
	}
	e := benchEnv(t)
	cComponent(t, e)
	for _, backend := range backends.Names() {
		core, comp := bulkPair(t, e, backend)
		for _, dir := range []string{"upload", "download"} {
			best := math.Inf(1)
			for attempt := 1; attempt <= 3 && best > bound; attempt++ {
				r := testing.Benchmark(bulkRatio(core, comp, dir))
				ratio := r.Extra["component/core-cpu"]
				if r.N == 0 || ratio == 0 {
					t.Fatalf("%s %s: the bulk benchmark failed", backend, dir)
				}
				t.Logf("%s %s, run %d: component/core %.3f CPU, %.3f elapsed, over %d alternations",
					backend, dir, attempt, ratio, r.Extra["component/core-wall"], r.N)
				best = min(best, ratio)
			}
			if *ratios {
				fmt.Printf("ratio %.3f component/core, bulk TLS %s on %s, process CPU time (limit %.1f)\n", best, dir, backend, limit)
			}
			if best > bound {
				t.Errorf("%s %s: the component takes %.2f times the core module's CPU time in the best of 3 runs, past %s (%.2f)",
					backend, dir, best, what, bound)
			}
		}
	}
}
