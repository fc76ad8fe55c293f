package bench

import (
	"crypto/tls"
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
	e, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
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

// BenchmarkComponentBulk measures what a component costs over the same
// program as a core module on bulk TLS: the C guest (cguest/cguest.c) as
// the core module the bench command runs and as a component built from
// it, each a wasi:tls client of the native server over loopback, moving
// -bench.chunk bytes per iteration in 16 KiB writes, alternated. It
// reports the component's CPU time over the core module's, counting the
// whole process (guest, host and the in-process peer, whose share is the
// same for both) and not other work on the machine, and the same ratio
// of elapsed time.
func BenchmarkComponentBulk(b *testing.B) {
	e := benchEnv(b)
	cComponent(b, e)
	group := tls.X25519MLKEM768
	const w = 16 << 10
	for _, dir := range []string{"upload", "download"} {
		for _, backend := range backends.Names() {
			b.Run(dir+"/"+strings.ReplaceAll(backend, "-", ""), func(b *testing.B) {
				open := func(s subject) *session {
					sess, err := e.openSession(localPeer{e}, s, group)
					if err != nil {
						b.Fatal(err)
					}
					return sess
				}
				core, comp := open(cSubject(backend)), open(cComponentSubject(backend))
				defer core.close()
				defer comp.close()
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
				var tCore, tComp time.Duration
				i := 0
				b.SetBytes(int64(n))
				for b.Loop() {
					dc, dm := alternate(b, i, xfer(core, 0), xfer(comp, 1))
					tCore, tComp, i = tCore+dc, tComp+dm, i+1
				}
				mb := float64(n) * float64(i) / 1e6
				b.ReportMetric(mb/tCore.Seconds(), "MB/s-core")
				b.ReportMetric(mb/tComp.Seconds(), "MB/s-component")
				if cpuOK {
					b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "component/core-cpu")
				}
				b.ReportMetric(float64(tComp)/float64(tCore), "component/core-wall")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
