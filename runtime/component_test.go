package runtime

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// helloComponent is testdata/components/hello.c as a command component:
// clang and wasi-libc, then `jco new --wasi-command` (the preview1 adapter:
// a main module, the adapter module, an indirect-call shim and a fixup
// module, imports at WASI 0.2.12).
func helloComponent(t *testing.T) *component.Component {
	b := cguest.Build(t, cguest.Spec{Sources: []string{"testdata/components/hello.c"}, Adapter: cguest.Command})
	c, err := component.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newComponentRuntime(t testing.TB) *Runtime {
	rt, _ := newTestRuntime(t, wazero.NewRuntimeConfig(), Config{})
	return rt
}

// newTestRuntime is a Runtime of cfg on a wazero.Runtime of rc, closed
// when the test ends.
func newTestRuntime(t testing.TB, rc wazero.RuntimeConfig, cfg Config) (*Runtime, wazero.Runtime) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := New(ctx, r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rt, r
}

// newStopRuntime is newComponentRuntime with the stop flag
// (NewFastRuntimeConfig, Config.StopFlag), as the wasitls command runs
// guests: core modules are to be compiled with CompileModule.
func newStopRuntime(t testing.TB) *Runtime {
	rt, _ := newTestRuntime(t, NewFastRuntimeConfig(), Config{StopFlag: true})
	return rt
}

func runHello(t *testing.T, args ...string) (stdout, stderr string, err error) {
	rt := newComponentRuntime(t)
	c := helloComponent(t)
	var out, errb bytes.Buffer
	inst, err := rt.InstantiateComponent(context.Background(), c, ModuleConfig{
		Args:   append([]string{"hello"}, args...),
		Env:    []string{"GREETING=hi there", "OTHER=x"},
		Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	err = inst.Run()
	return out.String(), errb.String(), err
}

// TestComponentCommand runs a C command component: arguments, environment,
// stdout and stderr go through WASI 0.2.12 imports bound to the 0.2
// implementation, with the adapter's own cabi_import_realloc.
func TestComponentCommand(t *testing.T) {
	stdout, stderr, err := runHello(t, "a b", "0")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := "arg 0: hello\narg 1: a b\narg 2: 0\nGREETING=hi there\n"
	if stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if stderr != "to stderr\n" {
		t.Errorf("stderr = %q", stderr)
	}
}

// TestComponentCommandExit checks the exit code: the preview1 adapter
// turns a nonzero exit into wasi:cli/exit's err, exit code 1.
func TestComponentCommandExit(t *testing.T) {
	_, _, err := runHello(t, "7")
	var ee *sys.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("Run = %v, want exit code 1", err)
	}
}

// TestComponentFiles runs a C component against two --dir style
// preopens: it reads and lists the read-only one, writes to the other, and
// is refused a write to the read-only one and paths outside both.
func TestComponentFiles(t *testing.T) {
	b := cguest.Build(t, cguest.Spec{Sources: []string{"testdata/components/files.c"}, Adapter: cguest.Command})
	c, err := component.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ro, rw := filepath.Join(root, "ro"), filepath.Join(root, "rw")
	for _, d := range []string{ro, rw} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(ro, "in.txt"), []byte("hello from the host"), 0o644)
	os.WriteFile(filepath.Join(ro, "b.txt"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "outside.txt"), []byte("secret"), 0o644)

	rt := newComponentRuntime(t)
	var out, errb bytes.Buffer
	err = rt.RunComponent(context.Background(), c, ModuleConfig{
		Args:   []string{"files"},
		Stdout: &out, Stderr: &errb,
		Dirs: []Dir{{Host: ro, Guest: "/ro", ReadOnly: true}, {Host: rw, Guest: "/rw"}},
	})
	if err != nil {
		t.Fatalf("Run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	want := `read: hello from the host
list: b.txt
list: in.txt
write /rw/out.txt: ok
open /ro/new.txt w: refused
open /ro/../outside.txt r: refused
open /outside.txt r: refused
`
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if got, _ := os.ReadFile(filepath.Join(rw, "out.txt")); string(got) != "written by a component\n" {
		t.Errorf("rw/out.txt = %q", got)
	}
	if _, err := os.Stat(filepath.Join(ro, "new.txt")); err == nil {
		t.Error("the component created a file in the read-only preopen")
	}
}

// calcSpec builds testdata/components/calc: a reactor written against the
// Canonical ABI by hand, with no libc.
func calcSpec(core bool) cguest.Spec {
	s := cguest.Spec{
		Sources: []string{"testdata/components/calc/calc.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry"},
		Core:    core,
	}
	if core {
		s.CFlags = append(s.CFlags, "-DCALC_CORE")
	} else {
		s.WIT, s.World = "testdata/components/calc/calc.wit", "calc"
	}
	return s
}

func calcInstance(t testing.TB, rt *Runtime) *ComponentInstance {
	c, err := component.Parse(cguest.Build(t, calcSpec(false)))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := rt.InstantiateComponent(context.Background(), c, ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(context.Background()) })
	return inst
}

// TestComponentReactor calls the exports of a reactor component from Go:
// arguments lowered and results lifted by the Canonical ABI, checked
// value by value.
func TestComponentReactor(t *testing.T) {
	inst := calcInstance(t, newComponentRuntime(t))
	call := func(name string, args ...any) any {
		t.Helper()
		f, err := inst.Component().Func(name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Call(inst.Context(), args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		args []any
		want any
	}{
		{"add", []any{int32(40), int32(2)}, int32(42)},
		{"add", []any{int32(-5), int32(2)}, int32(-3)},
		{"clock-loop", []any{uint32(10)}, uint64(10)},
		// greet's post-return overwrites the string: lifting comes first.
		{"greet", []any{"wörld"}, "hello, wörld"},
		{"sum", []any{[]any{uint32(1), uint32(2), uint32(1 << 31)}}, uint64(1<<31 + 3)},
		{"swap", []any{[]any{int32(1), int32(-2)}}, []any{int32(-2), int32(1)}},
		{"area", []any{component.Variant{Case: 0, Value: uint32(2)}}, component.Variant{Case: 0, Value: uint64(12)}},
		{"area", []any{component.Variant{Case: 1, Value: []any{int32(3), int32(-4)}}}, component.Variant{Case: 0, Value: uint64(1<<64 - 12)}},
		{"area", []any{component.Variant{Case: 2}}, component.Variant{Case: 1, Value: "empty"}},
		{"words", []any{"  the quick  brown fox "}, []any{"the", "quick", "brown", "fox"}},
	} {
		if got := call(tc.name, tc.args...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s%v = %#v (%T), want %#v (%T)", tc.name, tc.args, got, got, tc.want, tc.want)
		}
	}

	f, _ := inst.Component().Func("add")
	if _, err := f.Call(inst.Context(), int32(1)); err == nil {
		t.Error("add with one argument succeeded")
	}
	if _, err := f.Call(inst.Context(), "x", int32(1)); err == nil || !strings.Contains(err.Error(), "want a s32") {
		t.Errorf("add with a string: %v", err)
	}
	if _, err := inst.Component().Func("nope"); err == nil {
		t.Error("Func of a missing export succeeded")
	}
}

// clockLoop returns calc.c's clock-loop of 1 M wasi:clocks/wall-clock.now
// calls, as a core module (the glue takes memory from the calling module)
// and as a component (the glue takes it from the canon lower options;
// wit-component routes the import through its indirect-call shim, which
// the loader sees through). Both run as the wasitls command runs them,
// with the stop flag: the loop's header counts down in each.
func clockLoop(t testing.TB) (core, comp func() error) {
	const calls = 1_000_000
	rt := newStopRuntime(t)
	ctx := context.Background()
	compiled, err := CompileModule(ctx, rt.Wazero(), cguest.Build(t, calcSpec(true)))
	if err != nil {
		t.Fatal(err)
	}
	coreInst, err := rt.Instantiate(ctx, compiled, ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coreInst.Close(ctx) })
	coreLoop := coreInst.Module().ExportedFunction("clock-loop")
	compInst := calcInstance(t, rt)
	compLoop, err := compInst.Component().Func("clock-loop")
	if err != nil {
		t.Fatal(err)
	}
	core = func() error {
		if r, err := coreLoop.Call(coreInst.Context(), calls); err != nil || r[0] != calls {
			return fmt.Errorf("core clock-loop = %v, %v", r, err)
		}
		return nil
	}
	comp = func() error {
		if r, err := compLoop.Call(compInst.Context(), uint32(calls)); err != nil || r != uint64(calls) {
			return fmt.Errorf("component clock-loop = %v, %v", r, err)
		}
		return nil
	}
	return core, comp
}

// BenchmarkClockLoop measures what a component costs over the same program
// as a core module: clockLoop's two loops, each alone ("ns/now") and
// alternated ("ratio", clockLoopRatio).
func BenchmarkClockLoop(b *testing.B) {
	const calls = 1_000_000
	runCore, runComp := clockLoop(b)
	each := func(run func() error) func(*testing.B) {
		return func(b *testing.B) {
			for range b.N {
				if err := run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*calls), "ns/now")
		}
	}
	b.Run("core", each(runCore))
	b.Run("component", each(runComp))
	b.Run("ratio", clockLoopRatio(runCore, runComp))
}

// clockLoopRatio alternates the two loops and compares the CPU time of the
// thread running them (on Linux), so work elsewhere on a shared machine
// does not count, and reports component/core.
func clockLoopRatio(runCore, runComp func() error) func(*testing.B) {
	return func(b *testing.B) {
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		var tCore, tComp time.Duration
		for i := range b.N {
			// Alternate which goes first.
			for j := range 2 {
				start := threadCPU()
				if (i+j)%2 == 0 {
					if err := runCore(); err != nil {
						b.Fatal(err)
					}
					tCore += threadCPU() - start
				} else {
					if err := runComp(); err != nil {
						b.Fatal(err)
					}
					tComp += threadCPU() - start
				}
			}
		}
		b.ReportMetric(float64(tComp)/float64(tCore), "component/core")
	}
}

// preview1ClockLoop returns testdata/components/clockloop.c (1 M
// clock_gettime calls through wasi-libc) run as a wasip1 core module
// (wazero's wasi_snapshot_preview1 serves clock_time_get) and as a
// command component (`jco new --wasi-command`: the preview1 adapter turns
// it into wasi:clocks/wall-clock.now), each instantiated and run to its
// end.
func preview1ClockLoop(t testing.TB) (core, comp func() error) {
	const calls = 1_000_000
	rt := newComponentRuntime(t)
	ctx := context.Background()
	spec := cguest.Spec{Sources: []string{"testdata/components/clockloop.c"}, Core: true}
	compiled, err := rt.Wazero().CompileModule(ctx, cguest.Build(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	spec.Core, spec.Adapter = false, cguest.Command
	c, err := component.Parse(cguest.Build(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	args, want := []string{"clockloop", fmt.Sprint(calls)}, fmt.Sprintln(calls)
	core = func() error {
		var out bytes.Buffer
		inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{Args: args, Stdout: &out})
		if err == nil {
			inst.Close(ctx)
		}
		if out.String() != want {
			return fmt.Errorf("core clockloop printed %q (%v)", out.String(), err)
		}
		return nil
	}
	comp = func() error {
		var out bytes.Buffer
		if err := rt.RunComponent(ctx, c, ModuleConfig{Args: args, Stdout: &out}); err != nil || out.String() != want {
			return fmt.Errorf("component clockloop printed %q (%v)", out.String(), err)
		}
		return nil
	}
	return core, comp
}

// BenchmarkClockLoopPreview1 puts the clock loop of a preview1 program
// beside calc.c's: four loops of 1 M clock readings, taking turns, in
// thread CPU time, and the ratios between neighbours. p1core is
// clockloop.c as a wasip1 core module; calccore and calccomp are
// clockLoop's core module and component; p1comp is clockloop.c as a
// command component, which reaches the same wall-clock.now glue as
// calccomp through the preview1 adapter. Each p1 run includes its
// instantiation.
func BenchmarkClockLoopPreview1(b *testing.B) {
	p1Core, p1Comp := preview1ClockLoop(b)
	calcCore, calcComp := clockLoop(b)
	t := alternateCPU(b, p1Core, calcCore, calcComp, p1Comp)
	b.ReportMetric(float64(t[1])/float64(t[0]), "calccore/p1core")
	b.ReportMetric(float64(t[2])/float64(t[1]), "calccomp/calccore")
	b.ReportMetric(float64(t[3])/float64(t[2]), "p1comp/calccomp")
	b.ReportMetric(float64(t[3])/float64(t[0]), "p1comp/p1core")
}

var ratios = flag.Bool("ratios", false, "TestComponentCostRatio prints its ratio line and holds it to the limit itself")

// TestComponentCostRatio holds a component's cost over the same program
// as a core module, on the loop of host calls, to the 1.1 the README
// quotes. A slow run on a busy machine is retried and the best of up to
// three counts. In a plain go test it fails only past twice the limit, so
// a shared machine never fails it; with -ratios it prints a "ratio" line
// and holds the ratio to the limit:
//
//	go test ./runtime -run ComponentCostRatio -ratios -v
func TestComponentCostRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 1 M host calls several times; skipped in -short mode")
	}
	const limit = 1.1
	bound, what := 2*limit, "twice the limit"
	if *ratios {
		bound, what = limit, "the limit"
	}
	runCore, runComp := clockLoop(t)
	best := math.Inf(1)
	for attempt := 1; attempt <= 3 && best > bound; attempt++ {
		r := testing.Benchmark(clockLoopRatio(runCore, runComp))
		ratio := r.Extra["component/core"]
		if r.N == 0 || ratio == 0 {
			t.Fatal("the clock loop benchmark failed")
		}
		t.Logf("run %d: component/core %.3f over %d alternations", attempt, ratio, r.N)
		best = min(best, ratio)
	}
	if *ratios {
		fmt.Printf("ratio %.3f component/core, loop of 1 M wall-clock.now, thread CPU time (limit %.1f)\n", best, limit)
	}
	if best > bound {
		t.Errorf("the component takes %.2f times the core module's time in the best of 3 runs, past %s (%.2f)", best, what, bound)
	}
}

// TestComponentHostile checks that a component that traps, or hands the
// host a bad pointer, gets an error naming the fault and that the host
// keeps running: a trap poisons the instance, not the runtime.
func TestComponentHostile(t *testing.T) {
	rt := newComponentRuntime(t)
	call := func(inst *ComponentInstance, name string, args ...any) error {
		f, err := inst.Component().Func(name)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Call(inst.Context(), args...)
		return err
	}
	inst := calcInstance(t, rt)
	if err := call(inst, "crash"); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("crash: %v, want a trap", err)
	}
	// A trap inside the component poisons it: no export runs again, on
	// state the trap left half-changed.
	if err := call(inst, "add", int32(1), int32(2)); err == nil || !strings.Contains(err.Error(), "trapped before") {
		t.Fatalf("add after a trap: %v, want the instance poisoned", err)
	}
	inst = calcInstance(t, rt)
	err := call(inst, "bad-pointer")
	if err == nil || !strings.Contains(err.Error(), "wasi:clocks/wall-clock@0.2.0#now") || !strings.Contains(err.Error(), "out-of-bounds") {
		t.Fatalf("bad-pointer: %v, want an out-of-bounds trap naming the function", err)
	}
	if err := call(inst, "clock-loop", uint32(1)); err == nil || !strings.Contains(err.Error(), "trapped before") {
		t.Fatalf("clock-loop after a trap: %v, want the instance poisoned", err)
	}
	// Results that would make the host hold many times what they take in
	// the component's memory are errors, counted at their size on the
	// host; each poisons its instance.
	for _, tc := range []struct {
		name     string
		n        uint32
		maxAlloc uint64
	}{
		// 2,048 strings naming the same 256 KiB: 512 MiB to copy.
		{"aliased", 2048, 64 << 20},
		// A million bools: a MiB here, 16 MiB of interfaces there.
		{"bools", 1 << 20, 8 << 20},
		// 100,000 pairs of bytes: 200 KB here, about 8 MB of slices and
		// interfaces there.
		{"pairs", 100_000, 5 << 20},
	} {
		inst = calcInstance(t, rt)
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		err = call(inst, tc.name, tc.n)
		goruntime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "twice the guest memory") {
			t.Errorf("%s: %v, want an error for a result lifting to more than twice the memory", tc.name, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > tc.maxAlloc {
			t.Errorf("lifting %s(%d) allocated %d KiB", tc.name, tc.n, grew>>10)
		}
		if err := call(inst, "add", int32(1), int32(2)); err == nil || !strings.Contains(err.Error(), "trapped before") {
			t.Errorf("add after %s: %v, want the instance poisoned", tc.name, err)
		}
	}
	// Another instance of the same runtime is unaffected.
	other := calcInstance(t, rt)
	f, _ := other.Component().Func("add")
	if v, err := f.Call(other.Context(), int32(1), int32(2)); err != nil || v != int32(3) {
		t.Fatalf("add on a fresh instance = %v, %v", v, err)
	}
}

// TestComponentResource creates, uses, lends, moves and drops a resource
// the component defines (resource.new, .rep and .drop, the destructor).
func TestComponentResource(t *testing.T) {
	inst := calcInstance(t, newComponentRuntime(t))
	ctx := inst.Context()
	fn := func(name string) *component.Func {
		f, err := inst.Component().Func("example:calc/counters", name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	call := func(name string, args ...any) any {
		t.Helper()
		v, err := fn(name).Call(ctx, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	c1, ok := call("[constructor]counter", uint32(5)).(*component.Handle)
	if !ok {
		t.Fatal("the constructor did not return a *component.Handle")
	}
	if v := call("[method]counter.add", c1, uint32(3)); v != uint32(8) {
		t.Fatalf("add = %v, want 8", v)
	}
	if v := call("total", c1); v != uint32(8) {
		t.Fatalf("total (borrow) = %v, want 8", v)
	}
	// Moving it in: the component reads it and drops it, which runs the
	// destructor; the Handle is spent.
	if v := call("consume", c1); v != uint32(8) {
		t.Fatalf("consume = %v, want 8", v)
	}
	if v := call("destroyed"); v != uint32(1) {
		t.Fatalf("destroyed = %v, want 1", v)
	}
	if _, err := fn("total").Call(ctx, c1); err == nil || !strings.Contains(err.Error(), "moved") {
		t.Fatalf("total of a moved handle: %v", err)
	}
	// Dropping from Go runs the destructor too.
	c2 := call("[constructor]counter", uint32(1)).(*component.Handle)
	if err := c2.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if v := call("destroyed"); v != uint32(2) {
		t.Fatalf("destroyed = %v, want 2", v)
	}
	if err := c2.Drop(ctx); err == nil {
		t.Fatal("a second Drop succeeded")
	}
}

// TestComponentJavaScript runs a JavaScript component built by
// componentize-js (StarlingMonkey, about 12 MB of core modules) that uses
// the wall clock, randomness and stdout; wasi:http is disabled in the
// build, as this host does not serve it.
func TestComponentJavaScript(t *testing.T) {
	b := cguest.BuildJS(t, "testdata/components/js/hello.js", "testdata/components/js/hello.wit", "hello", "http", "fetch-event")
	c, err := component.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err = newComponentRuntime(t).RunComponent(context.Background(), c, ModuleConfig{Args: []string{"hello"}, Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatalf("Run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	if want := "hello from javascript: clock ok, random ok\n"; out.String() != want {
		t.Fatalf("stdout = %q, want %q (stderr %q)", out.String(), want, errb.String())
	}
}

// streamsComponent builds testdata/components/streams, a C reactor whose
// exports take and return WASI streams.
func streamsComponent(t testing.TB) *component.Component {
	b := cguest.Build(t, cguest.Spec{
		Sources: []string{"testdata/components/streams/streams.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry"},
		WIT:     "testdata/components/streams/streams.wit", World: "streams",
		WITDeps: cguest.WITDeps("io", "cli", "clocks", "filesystem", "random", "sockets"),
	})
	c, err := component.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestComponentHostResources calls the exports of a C reactor component
// that take and return WASI resources the host implements: output and
// input streams over Go buffers, lent as borrow<R> for a call, moved in
// and out as own<R>, and the component's own stdout handed to Go.
func TestComponentHostResources(t *testing.T) {
	c := streamsComponent(t)
	var stdout bytes.Buffer
	inst, err := newComponentRuntime(t).InstantiateComponent(context.Background(), c, ModuleConfig{Stdout: &stdout})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	ctx := inst.Context()
	call := func(name string, args ...any) (any, error) {
		t.Helper()
		f, err := inst.Component().Func("example:streams/pipes", name)
		if err != nil {
			t.Fatal(err)
		}
		return f.Call(ctx, args...)
	}
	mustCall := func(name string, args ...any) any {
		t.Helper()
		v, err := call(name, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	var buf bytes.Buffer
	closes := 0
	ws := wasiio.NewOutputStream(&buf, func() error { closes++; return nil })
	defer ws.Close()
	out := component.HostResource{Type: streams.OutputStreamType, Value: ws}

	// Borrowed: the component waits on a pollable (a child of the lent
	// stream), writes and drops its borrow; the stream stays ours.
	for _, name := range []string{"wörld", "again"} {
		if v := mustCall("greet", out, name); v != true {
			t.Fatalf("greet = %v", v)
		}
	}
	if buf.String() != "hello, wörld\nhello, again\n" || closes != 0 {
		t.Fatalf("after greet: %q, %d closes", buf.String(), closes)
	}
	buf.Reset()

	// Two borrows in one call.
	data := strings.Repeat("0123456789abcdef", 1000)
	rs := wasiio.NewInputStream(strings.NewReader(data), nil)
	defer rs.Close()
	in := component.HostResource{Type: streams.InputStreamType, Value: rs}
	if v := mustCall("copy", in, out); v != uint64(len(data)) || buf.String() != data {
		t.Fatalf("copy = %v, copied %d of %d bytes", v, buf.Len(), len(data))
	}
	buf.Reset()

	// A borrow the component does not drop is the call's error; the
	// stream comes back to us all the same.
	if _, err := call("keep", out); err == nil || !strings.Contains(err.Error(), "did not drop borrow<wasi:io/streams.output-stream>") {
		t.Fatalf("keep: %v", err)
	}
	if mustCall("greet", out, "still mine") != true || buf.String() != "hello, still mine\n" {
		t.Fatalf("greet after keep: %q", buf.String())
	}
	buf.Reset()

	// Borrows inside arguments: a list holding one stream twice and
	// another, and an option; each is lent and ended, the streams stay ours.
	var buf2 bytes.Buffer
	ws2 := wasiio.NewOutputStream(&buf2, nil)
	defer ws2.Close()
	out2 := component.HostResource{Type: streams.OutputStreamType, Value: ws2}
	if v := mustCall("greet-all", []any{out, out2, out}, component.Variant{Case: 1, Value: out2}, "äll"); v != uint32(4) ||
		buf.String() != "hello, äll\nhello, äll\n" || buf2.String() != "hello, äll\nhello, äll\n" {
		t.Fatalf("greet-all = %v: %q, %q", v, buf.String(), buf2.String())
	}
	if v := mustCall("greet-all", []any{}, component.Variant{Case: 0}, "none"); v != uint32(0) {
		t.Fatalf("greet-all of nothing = %v", v)
	}
	if n := inst.Cabi().Table().Len(); n != 0 {
		t.Fatalf("after greet-all: %d handles held", n)
	}
	buf.Reset()
	buf2.Reset()
	// One nested borrow kept: the call's error names the function and the
	// borrow, and both streams come back, undropped.
	if _, err := call("keep-last", []any{out2, out}); err == nil || !strings.Contains(err.Error(), "keep-last") ||
		!strings.Contains(err.Error(), "did not drop borrow<wasi:io/streams.output-stream>") {
		t.Fatalf("keep-last: %v", err)
	}
	if n := inst.Cabi().Table().Len(); n != 0 || closes != 0 {
		t.Fatalf("after keep-last: %d handles held, %d closes", n, closes)
	}

	// Moved in and back out: the same stream.
	v := mustCall("pass", out)
	back, ok := v.(component.HostResource)
	if !ok || back.Value != ws || back.Type != streams.OutputStreamType {
		t.Fatalf("pass = %#v", v)
	}
	// Parameters passed in memory, a borrow among them.
	sum := []any{out}
	for i := range 16 {
		sum = append(sum, uint32(i+1))
	}
	if mustCall("write-sum", sum...) != true || buf.String() != "sum 136\n" {
		t.Fatalf("write-sum: %q", buf.String())
	}
	buf.Reset()
	// A call that fails before the component runs leaves an own<R>
	// argument with the caller.
	if _, err := call("finish", out, 42); err == nil || !strings.Contains(err.Error(), "want a string") {
		t.Fatalf("finish with a bad line: %v", err)
	}
	if n := inst.Cabi().Table().Len(); n != 0 || closes != 0 {
		t.Fatalf("after a failed finish: %d handles held, %d closes", n, closes)
	}
	// Moved in for good: the component writes and drops it, which closes it.
	if mustCall("finish", out, "bye") != true || buf.String() != "bye\n" || closes != 1 {
		t.Fatalf("finish: %q, %d closes", buf.String(), closes)
	}

	// The component's stdout, owned by Go now.
	v = mustCall("stdout")
	so, ok := v.(component.HostResource)
	if !ok || so.Type != streams.OutputStreamType {
		t.Fatalf("stdout = %#v", v)
	}
	if err := so.Value.(streams.OutputStream).BlockingWriteAndFlush(ctx, []byte("written from Go\n")); err != nil {
		t.Fatal(err)
	}
	so.Value.Drop()
	if stdout.String() != "written from Go\n" {
		t.Fatalf("stdout = %q", stdout.String())
	}

	// Mistakes are errors naming them.
	other := wasiio.NewOutputStream(io.Discard, nil)
	defer other.Close()
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{in, "x"}, "a HostResource of wasi:io/streams.input-stream, want wasi:io/streams.output-stream"},
		{[]any{component.HostResource{Type: streams.OutputStreamType}, "x"}, "without its Type or Value"},
		{[]any{other, "x"}, "want a component.HostResource"},
	} {
		if _, err := call("greet", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("greet%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if n := inst.Cabi().Table().Len(); n != 0 {
		t.Errorf("the component holds %d handles, want none", n)
	}
}
