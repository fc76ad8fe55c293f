package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// fastRuntime returns a runtime on NewFastRuntimeConfig, declared so.
func fastRuntime(t *testing.T, cfg runtime.Config) *runtime.Runtime {
	t.Helper()
	cfg.StopFlag = true
	_, rt := testRuntime(t, runtime.NewFastRuntimeConfig(), cfg)
	return rt
}

// testRuntime makes a wazero runtime of wcfg, with the package's
// compilation cache, closed when the test ends, and a Runtime of cfg on it.
func testRuntime(t *testing.T, wcfg wazero.RuntimeConfig, cfg runtime.Config) (wazero.Runtime, *runtime.Runtime) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wcfg.WithCompilationCache(cache))
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := runtime.New(ctx, r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, rt
}

// corePath is one of the two ways a core module runs: with the stop flag
// (NewFastRuntimeConfig, CompileModuleLimits) or under wazero's checks
// (NewRuntimeConfig, CompileModuleChecked).
type corePath struct {
	name    string
	wcfg    wazero.RuntimeConfig
	stop    bool
	compile func(context.Context, wazero.Runtime, []byte, runtime.Limits) (wazero.CompiledModule, error)
}

var corePaths = []corePath{
	{"stop flag", runtime.NewFastRuntimeConfig(), true, runtime.CompileModuleLimits},
	{"wazero checks", runtime.NewRuntimeConfig(), false, runtime.CompileModuleChecked},
}

// setup makes a Runtime of cfg on the path (as testRuntime does, the stop
// flag set as the path says) and compiles wasm in it, with no limits.
func (p corePath) setup(t *testing.T, cfg runtime.Config, wasm []byte) (*runtime.Runtime, wazero.CompiledModule) {
	t.Helper()
	cfg.StopFlag = p.stop
	r, rt := testRuntime(t, p.wcfg, cfg)
	compiled, err := p.compile(context.Background(), r, wasm, runtime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return rt, compiled
}

// guestRuntime makes a Runtime of cfg as testRuntime does, on
// wazero's default configuration, and compiles the guest package pkg in it.
func guestRuntime(t *testing.T, cfg runtime.Config, pkg string) (*runtime.Runtime, wazero.CompiledModule) {
	t.Helper()
	r, rt := testRuntime(t, wazero.NewRuntimeConfig(), cfg)
	compiled, err := r.CompileModule(context.Background(), guestbuild.MustBuild(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return rt, compiled
}

// stopBound is how long a stopped guest may take to return: a hang
// guard, generous for a loaded machine (a stop is prompt: the guest's
// goroutine need only be scheduled).
const stopBound = 30 * time.Second

// wantStopped waits for done and checks it reports the context-cancelled
// exit within stopBound.
func wantStopped(t *testing.T, done <-chan error) {
	t.Helper()
	wantExit(t, done, sys.ExitCodeContextCanceled)
}

// wantExpired waits for done and checks it reports the deadline-exceeded
// exit within stopBound, as wazero's own check of the context does.
func wantExpired(t *testing.T, done <-chan error) {
	t.Helper()
	wantExit(t, done, sys.ExitCodeDeadlineExceeded)
}

func wantExit(t *testing.T, done <-chan error, code uint32) {
	t.Helper()
	select {
	case err := <-done:
		var ee *sys.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != code {
			t.Fatalf("err = %v, want an exit with code %#x", err, code)
		}
	case <-time.After(stopBound):
		t.Fatalf("the spinning guest did not stop within %v", stopBound)
	}
}

// TestStopFlagGoGuest: a Go guest spinning in `for {}` without host calls
// is stopped by a cancelled context, a deadline and Instance.Close, under
// the fast configuration.
func TestStopFlagGoGuest(t *testing.T) {
	rt := fastRuntime(t, runtime.Config{})
	compiled, err := runtime.CompileModule(context.Background(), rt.Wazero(), guestbuild.MustBuild(t, "./testdata/spin"))
	if err != nil {
		t.Fatal(err)
	}
	start := func(ctx context.Context, started func(*runtime.Instance)) <-chan error {
		out := &lineWriter{lines: make(chan string, 16)}
		done := make(chan error, 1)
		go func() {
			_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Stdout: out, Started: started})
			done <- err
		}()
		select {
		case <-out.lines: // spinning
		case err := <-done:
			t.Fatalf("guest ended early: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
		return done
	}
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := start(ctx, nil)
		cancel()
		wantStopped(t, done)
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		wantExpired(t, start(ctx, nil))
	})
	t.Run("close", func(t *testing.T) {
		insts := make(chan *runtime.Instance, 1)
		done := start(context.Background(), func(inst *runtime.Instance) { insts <- inst })
		if err := (<-insts).Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		wantStopped(t, done)
	})
}

// spinReactor is a hand-assembled reactor whose export spin loops forever
// in pure wasm.
func spinReactor() []byte {
	var m wasmbin.Module
	typ := m.Type(nil, nil)
	spin := m.Func(typ, nil, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b})
	boom := m.Func(typ, nil, []byte{0x00}) // unreachable
	m.Export("spin", wasmbin.ExportFunc, spin)
	m.Export("boom", wasmbin.ExportFunc, boom)
	m.Export("test:stop/api#spin", wasmbin.ExportFunc, spin)
	m.Export("test:stop/api#boom", wasmbin.ExportFunc, boom)
	return m.Bytes()
}

// wantStop waits for done and checks it reports the stop (ErrStopped)
// and reason within stopBound, not the stop check's bare trap.
func wantStop(t *testing.T, done <-chan error, reason error) {
	t.Helper()
	checkStop(t, callErr(t, done), reason)
}

// callErr waits stopBound for the call's error.
func callErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(stopBound):
		t.Fatalf("the spinning call did not stop within %v", stopBound)
		return nil
	}
}

// checkStop checks that err reports the stop (ErrStopped) and reason, not
// the stop check's bare trap.
func checkStop(t *testing.T, err error, reason error) {
	t.Helper()
	if !errors.Is(err, runtime.ErrStopped) || !errors.Is(err, reason) {
		t.Fatalf("err = %v, want runtime.ErrStopped and %v", err, reason)
	}
	if strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("err = %v, names the stop check's trap", err)
	}
}

// A closer is an Instance or a ComponentInstance.
type closer interface{ Close(context.Context) error }

// spinWait is how long stopCases lets a call spin before it stops it.
const spinWait = 50 * time.Millisecond

// stopCases runs the call spin starts (on its own goroutine, on an
// instance it makes with ctx), stopped by a cancelled context, a deadline
// and Close once it had spinWait to enter the guest.
func stopCases(t *testing.T, spin func(t *testing.T, ctx context.Context) (closer, <-chan error)) {
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		inst, done := spin(t, ctx)
		defer inst.Close(context.Background())
		time.Sleep(spinWait)
		cancel()
		wantStop(t, done, context.Canceled)
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		inst, done := spin(t, ctx)
		defer inst.Close(context.Background())
		wantStop(t, done, context.DeadlineExceeded)
	})
	t.Run("close", func(t *testing.T) {
		// A call that had not entered the guest when Close came (its
		// goroutine not yet run on a loaded machine) is refused as a
		// call into a closed instance (ErrClosed without ErrStopped):
		// it says nothing of stopping a spinning call, so the case runs
		// again with a longer wait. A call that spins is stopped
		// whatever the wait.
		for wait := spinWait; ; wait *= 4 {
			inst, done := spin(t, context.Background())
			time.Sleep(wait)
			inst.Close(context.Background())
			err := callErr(t, done)
			if !errors.Is(err, runtime.ErrStopped) && errors.Is(err, runtime.ErrClosed) && wait < stopBound {
				t.Logf("the call had not entered the guest %v after it started (%v): again", wait, err)
				continue
			}
			checkStop(t, err, runtime.ErrClosed)
			return
		}
	})
}

// spinCallers are the ways an embedder calls a reactor's export, each
// returning the call's error: Instance.Call, wazero's api.Function with
// Instance.CallError, and the generated callers' two paths through cabi
// (the scalar Enter/Leave and a Call's BeginExport/Invoke).
var spinCallers = map[string]func(inst *runtime.Instance, name string) error{
	"Instance.Call": func(inst *runtime.Instance, name string) error {
		_, err := inst.Call(name)
		return err
	},
	"CallError": func(inst *runtime.Instance, name string) error {
		_, err := inst.Module().ExportedFunction(name).Call(inst.Context())
		return inst.CallError(err)
	},
	"Exports.Leave": func(inst *runtime.Instance, name string) error {
		x, f := bindSpin(inst, name)
		s := x.Enter()
		if s == nil {
			return x.Refusal(&f)
		}
		return x.Leave(inst.Context(), &f, f.Fn.CallWithStack(inst.Context(), s))
	},
	"Call.Invoke": func(inst *runtime.Instance, name string) (err error) {
		x, f := bindSpin(inst, name)
		var c cabi.Call
		defer c.EndExport(&err)
		c.BeginExport(inst.Context(), &x, &f)
		c.Invoke()
		return nil
	},
}

// bindSpin binds the export test:stop/api#name of spinReactor as the
// generated callers do.
func bindSpin(inst *runtime.Instance, name string) (cabi.Exports, cabi.ExportFunc) {
	b := cabi.NewBinder(inst.Module(), "test:stop/api", "")
	f := b.Func(name, "", nil, nil)
	if err := b.Err(); err != nil {
		panic(err)
	}
	return b.Exports(inst.Cabi(), nil, 1, false), f
}

// TestStopFlagWasmLoop: a call of a reactor's export spinning in a wasm
// loop is stopped by a cancelled context, a deadline and Instance.Close,
// and every way of calling it reports the stop and why (ErrStopped and
// the reason), not the bare trap of the stop check.
func TestStopFlagWasmLoop(t *testing.T) {
	rt := fastRuntime(t, runtime.Config{})
	compiled, err := runtime.CompileModule(context.Background(), rt.Wazero(), spinReactor())
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range spinCallers {
		t.Run(name, func(t *testing.T) {
			spin := func(t *testing.T, ctx context.Context) (*runtime.Instance, <-chan error) {
				inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
				if err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- call(inst, "spin") }()
				return inst, done
			}
			stopCases(t, func(t *testing.T, ctx context.Context) (closer, <-chan error) { return spin(t, ctx) })
			t.Run("own-trap", func(t *testing.T) {
				// The guest's own unreachable, not stopped, is the trap.
				inst, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{})
				if err != nil {
					t.Fatal(err)
				}
				defer inst.Close(context.Background())
				err = call(inst, "boom")
				if err == nil || errors.Is(err, runtime.ErrStopped) || !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("err = %v, want the guest's unreachable trap", err)
				}
			})
		})
	}
}

// TestStopFlagRefusesUncheckedGuests: under Config.StopFlag, a module
// wazero compiled directly, which nothing could stop, is refused, with
// the way to compile it.
func TestStopFlagRefusesUncheckedGuests(t *testing.T) {
	ctx := context.Background()
	rt := fastRuntime(t, runtime.Config{})
	compiled, err := rt.Wazero().CompileModule(ctx, spinReactor())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{}); err == nil || !strings.Contains(err.Error(), "compile it with runtime.CompileModule(ctx, r, wasm), not wazero's CompileModule") {
		t.Fatalf("Instantiate = %v, want the refusal of an uninstrumented module, saying how to compile it", err)
	}
	// A module with the global's name but not compiled by CompileModule.
	var m wasmbin.Module
	g := m.Global(wasmbin.I32, true, wasmbin.I32Const(0))
	m.Export(stopcheck.GlobalName, wasmbin.ExportGlobal, g)
	forged, err := rt.Wazero().CompileModule(ctx, m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Instantiate(ctx, forged, runtime.ModuleConfig{}); err == nil {
		t.Fatal("Instantiate ran a module that only exports the stop global's name")
	}
}

// TestStopFlagInstrumentsEveryGuest: every guest of the repository's
// tests, Go and C, compiles once instrumented, and so do the core modules
// of components, those with a start section (the preview1 command
// adapter's) included.
func TestStopFlagInstrumentsEveryGuest(t *testing.T) {
	ctx := context.Background()
	rt := fastRuntime(t, runtime.Config{})
	var guests [][]byte
	for _, pkg := range []string{"spin", "echoclient", "listener", "hog", "crash", "files", "pollmany", "udpecho", "dialname", "p1files", "twoversions"} {
		guests = append(guests, guestbuild.MustBuild(t, "./testdata/"+pkg))
	}
	calc := cguest.Spec{ // testdata/components/calc, as component_test.go builds it
		Sources: []string{"testdata/components/calc/calc.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry"},
		WIT:     "testdata/components/calc/calc.wit", World: "calc",
	}
	for _, spec := range []cguest.Spec{
		{Sources: []string{"testdata/components/hello.c"}, Adapter: cguest.Command},
		{Sources: []string{"testdata/components/files.c"}, Adapter: cguest.Command},
		calc,
	} {
		c, err := component.Parse(cguest.Build(t, spec))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range c.Defs {
			if cm, ok := d.(component.CoreModule); ok {
				guests = append(guests, cm.Bytes)
			}
		}
	}
	if len(guests) < 14 {
		t.Fatalf("only %d guests to instrument: the components' core modules were not found", len(guests))
	}
	starts := 0
	for i, wasm := range guests {
		out, err := stopcheck.Instrument(wasm)
		if err != nil {
			t.Fatalf("guest %d: %v", i, err)
		}
		compiled, err := rt.Wazero().CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("guest %d: instrumented, it does not compile: %v", i, err)
		}
		if _, ok := compiled.ExportedFunctions()[stopcheck.StartName]; ok {
			starts++
		}
		compiled.Close(ctx)
	}
	if starts < 2 {
		t.Fatalf("%d guests with a start section, want the command adapters of hello and files", starts)
	}
}

// TestStopFlagInitialize: a reactor whose _initialize spins, stopped by a
// cancelled context, makes Instantiate report the stop and why.
func TestStopFlagInitialize(t *testing.T) {
	rt := fastRuntime(t, runtime.Config{})
	var m wasmbin.Module
	spin := m.Func(m.Type(nil, nil), nil, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b})
	m.Export("_initialize", wasmbin.ExportFunc, spin)
	compiled, err := runtime.CompileModule(context.Background(), rt.Wazero(), m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, runtime.ErrStopped) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want runtime.ErrStopped and context.Canceled", err)
		}
		t.Log(err)
	case <-time.After(stopBound):
		t.Fatalf("the spinning _initialize did not stop within %v", stopBound)
	}
}

// TestStopFlagStartSection: a module whose start function spins (exported
// by the rewriter, run by Instantiate once the stop global is armed) is
// stopped by a cancelled context and by Instance.Close.
func TestStopFlagStartSection(t *testing.T) {
	rt := fastRuntime(t, runtime.Config{})
	var m wasmbin.Module
	m.Start(m.Func(m.Type(nil, nil), nil, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}))
	compiled, err := runtime.CompileModule(context.Background(), rt.Wazero(), m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		reason error
	}{{"cancel", context.Canceled}, {"close", runtime.ErrClosed}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			insts := make(chan *runtime.Instance, 1)
			done := make(chan error, 1)
			go func() {
				_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Started: func(inst *runtime.Instance) { insts <- inst }})
				done <- err
			}()
			inst := <-insts
			time.Sleep(50 * time.Millisecond)
			if tc.reason == runtime.ErrClosed {
				inst.Close(context.Background())
			} else {
				cancel()
			}
			select {
			case err := <-done:
				if !errors.Is(err, runtime.ErrStopped) || !errors.Is(err, tc.reason) {
					t.Fatalf("err = %v, want runtime.ErrStopped and %v", err, tc.reason)
				}
			case <-time.After(stopBound):
				t.Fatalf("the spinning start function did not stop within %v", stopBound)
			}
		})
	}
}

// spinComponent builds testdata/components/spin, a reactor component whose
// export spin loops without end and whose export boom traps.
func spinComponent(t *testing.T) *component.Component {
	c, err := component.Parse(cguest.Build(t, cguest.Spec{
		Sources: []string{"testdata/components/spin/spin.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry"},
		WIT:     "testdata/components/spin/spin.wit", World: "spin",
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStopFlagComponent: under Config.StopFlag, a component's export
// spinning in a wasm loop is stopped by a cancelled context, a deadline
// and ComponentInstance.Close, and reports the stop and why; its own trap
// reports as the trap. A command component (the preview1 adapter's core
// module has a start section) runs.
func TestStopFlagComponent(t *testing.T) {
	rt := fastRuntime(t, runtime.Config{})
	c := spinComponent(t)
	spin := func(t *testing.T, ctx context.Context) (*runtime.ComponentInstance, <-chan error) {
		inst, err := rt.InstantiateComponent(ctx, c, runtime.ModuleConfig{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := inst.Component().Func("spin")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := f.Call(inst.Context())
			done <- err
		}()
		return inst, done
	}
	stopCases(t, func(t *testing.T, ctx context.Context) (closer, <-chan error) { return spin(t, ctx) })
	t.Run("own-trap", func(t *testing.T) {
		inst, err := rt.InstantiateComponent(context.Background(), c, runtime.ModuleConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer inst.Close(context.Background())
		f, err := inst.Component().Func("boom")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Call(inst.Context()); err == nil || errors.Is(err, runtime.ErrStopped) || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("err = %v, want the guest's unreachable trap", err)
		}
	})
	t.Run("command", func(t *testing.T) {
		hello, err := component.Parse(cguest.Build(t, cguest.Spec{Sources: []string{"testdata/components/hello.c"}, Adapter: cguest.Command}))
		if err != nil {
			t.Fatal(err)
		}
		out := &strings.Builder{}
		if err := rt.RunComponent(context.Background(), hello, runtime.ModuleConfig{Stdout: out, Args: []string{"hello"}}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "arg 0: hello") {
			t.Fatalf("stdout %q", out.String())
		}
	})
}
