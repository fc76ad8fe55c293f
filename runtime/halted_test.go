package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// haltedReactor is a reactor importing example:reenter/host's callback:
// run(n) returns callback(n); exit calls proc_exit(5); boom traps; spin
// loops forever. Each is exported under its own name (Instance.Call,
// wazero) and under test:halt/api#name (the generated callers).
func haltedReactor() []byte {
	var m wasmbin.Module
	i32 := []byte{wasmbin.I32}
	cb := m.ImportFunc("example:reenter/host@0.1.0", "callback", m.Type(i32, i32))
	procExit := m.ImportFunc("wasi_snapshot_preview1", "proc_exit", m.Type(i32, nil))
	void := m.Type(nil, nil)
	run := m.Func(m.Type(i32, i32), nil, []byte{0x20, 0x00, 0x10, byte(cb)}) // local.get 0; call callback
	exit := m.Func(void, nil, wasmbin.Cat(wasmbin.I32Const(5), []byte{0x10, byte(procExit)}))
	boom := m.Func(void, nil, []byte{0x00})                         // unreachable
	spin := m.Func(void, nil, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}) // loop br 0 end
	m.Memory(1, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	for name, f := range map[string]int{"run": run, "exit": exit, "boom": boom, "spin": spin} {
		m.Export(name, wasmbin.ExportFunc, f)
		m.Export("test:halt/api#"+name, wasmbin.ExportFunc, f)
	}
	return m.Bytes()
}

// A coreCaller is one way an embedder calls a core module's export:
// name, with one i32 parameter for run and none otherwise.
type coreCaller func(inst *Instance, name string) error

// coreCallers are the ways an embedder calls a core module's export:
// Instance.Call, wazero's api.Function with Instance.CallError, and the
// generated callers' two paths through cabi (the scalar Enter/Leave of
// exports without memory traffic, and a Call's BeginExport/Invoke).
var coreCallers = map[string]coreCaller{
	"Instance.Call": func(inst *Instance, name string) error {
		_, err := inst.Call(name, haltedArgs(name)...)
		return err
	},
	"CallError": func(inst *Instance, name string) error {
		_, err := inst.Module().ExportedFunction(name).Call(inst.Context(), haltedArgs(name)...)
		return inst.CallError(err)
	},
	"Exports.Leave": func(inst *Instance, name string) error {
		x, f := bindHalted(inst, name)
		s := x.Enter()
		if s == nil {
			return x.Refusal(&f)
		}
		copy(s, haltedArgs(name))
		return x.Leave(inst.Context(), &f, f.Fn.CallWithStack(inst.Context(), s))
	},
	"Call.Invoke": func(inst *Instance, name string) (err error) {
		x, f := bindHalted(inst, name)
		var c cabi.Call
		defer c.EndExport(&err)
		c.BeginExport(inst.Context(), &x, &f)
		copy(c.Stack(), haltedArgs(name))
		c.Invoke()
		return nil
	},
}

func haltedArgs(name string) []uint64 {
	if name == "run" {
		return []uint64{1}
	}
	return nil
}

// bindHalted binds the export test:halt/api#name of haltedReactor as the
// generated callers do.
func bindHalted(inst *Instance, name string) (cabi.Exports, cabi.ExportFunc) {
	b := cabi.NewBinder(inst.Module(), "test:halt/api", "")
	var params, results []byte
	if name == "run" {
		params, results = []byte{wasmbin.I32}, []byte{wasmbin.I32}
	}
	f := b.Func(name, "", params, results)
	if err := b.Err(); err != nil {
		panic(err)
	}
	return b.Exports(inst.Cabi(), nil, 1, false), f
}

// A haltWant is what a call into a halted instance must wrap (all of is)
// and say (the text).
type haltWant struct {
	is   []error
	text string
}

func (w haltWant) check(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("the call into the halted instance succeeded, want %v", w.is)
	}
	for _, target := range w.is {
		if !errors.Is(err, target) {
			t.Fatalf("err = %v, want it to wrap %v", err, target)
		}
	}
	if !strings.Contains(err.Error(), w.text) {
		t.Fatalf("err = %v, want it to say %q", err, w.text)
	}
	if strings.Count(err.Error(), "\n") > 0 {
		t.Fatalf("err = %q, want one line", err)
	}
}

var (
	closedWant  = haltWant{[]error{ErrClosed, cabi.ErrClosed}, "instance is closed"}
	exitedWant  = haltWant{[]error{cabi.ErrExited}, "instance has exited with code 5"}
	trappedWant = haltWant{[]error{cabi.ErrTrapped}, "instance has trapped before"}
	// A call through wazero that found the module closed: CallError
	// cannot tell whether Close came before or during it.
	closedDirectWant = haltWant{[]error{ErrClosed, ErrStopped}, "the guest was stopped: instance is closed"}
)

// TestHaltedCallsCore: a call into a core module instance that was
// closed, whose guest exited or trapped, or whose call a context stopped,
// reports the same errors whichever way the embedder calls it (the table
// in the package documentation): each state reached, and the next call
// made, through the same caller. The exceptions the table names: a core
// module's own trap leaves it callable through Instance.Call, and the
// call through wazero with CallError cannot be refused before it runs, so
// that it reports the closed module as a stop by Close, the exit as
// wazero's *sys.ExitError, and a trapped or stopped instance's call as
// whatever that call does.
func TestHaltedCallsCore(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
	t.Cleanup(func() { r.Close(ctx) })
	host := &reenterHost{callback: func(_ context.Context, n uint32) uint32 { return n + 1 }}
	rt, err := New(ctx, r, Config{StopFlag: true, Extensions: []Extension{host}})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := CompileModule(ctx, r, haltedReactor())
	if err != nil {
		t.Fatal(err)
	}
	instantiate := func(t *testing.T, ctx context.Context) *Instance {
		inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { inst.Close(context.Background()) })
		return inst
	}
	for name, call := range coreCallers {
		direct := name == "CallError"
		t.Run(name, func(t *testing.T) {
			t.Run("healthy", func(t *testing.T) {
				if err := call(instantiate(t, ctx), "run"); err != nil {
					t.Fatalf("run = %v", err)
				}
			})
			t.Run("closed", func(t *testing.T) {
				inst := instantiate(t, ctx)
				if err := inst.Close(ctx); err != nil {
					t.Fatal(err)
				}
				want := closedWant
				if direct {
					want = closedDirectWant
				}
				want.check(t, call(inst, "run"))
			})
			t.Run("exited", func(t *testing.T) {
				inst := instantiate(t, ctx)
				var exit *sys.ExitError
				if err := call(inst, "exit"); !errors.As(err, &exit) || exit.ExitCode() != 5 {
					t.Fatalf("exit = %v, want the exit with code 5", err)
				}
				err := call(inst, "run")
				if direct {
					if !errors.As(err, &exit) || exit.ExitCode() != 5 {
						t.Fatalf("run after the exit = %v, want wazero's exit with code 5", err)
					}
					return
				}
				exitedWant.check(t, err)
			})
			t.Run("exited-closed", func(t *testing.T) {
				inst := instantiate(t, ctx)
				if err := call(inst, "exit"); err == nil {
					t.Fatal("exit returned")
				}
				if err := inst.Close(ctx); err != nil {
					t.Fatal(err)
				}
				err := call(inst, "run")
				if direct {
					var exit *sys.ExitError
					if !errors.As(err, &exit) || exit.ExitCode() != 5 {
						t.Fatalf("err = %v, want the guest's exit with code 5 too", err)
					}
				}
				haltWant{[]error{ErrClosed, cabi.ErrExited}, "instance is closed (its guest had exited with code 5)"}.check(t, err)
			})
			t.Run("trapped", func(t *testing.T) {
				inst := instantiate(t, ctx)
				if err := call(inst, "boom"); err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("boom = %v, want the guest's trap", err)
				}
				err := call(inst, "run")
				if name == "Instance.Call" || direct {
					// A core module's own trap leaves it callable
					// through Instance.Call (with the whole stack
					// budget again); through wazero nothing refuses.
					if err != nil {
						t.Fatalf("run after the guest's trap = %v, want it run", err)
					}
					return
				}
				trappedWant.check(t, err)
			})
			t.Run("stopped", func(t *testing.T) {
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				inst := instantiate(t, cctx)
				done := make(chan error, 1)
				go func() { done <- call(inst, "spin") }()
				time.Sleep(spinWait)
				cancel()
				select {
				case err := <-done:
					if !errors.Is(err, ErrStopped) || !errors.Is(err, context.Canceled) {
						t.Fatalf("spin = %v, want ErrStopped and context.Canceled", err)
					}
				case <-time.After(stopBound):
					t.Fatalf("the spinning call did not stop within %v", stopBound)
				}
				err := call(inst, "spin")
				if direct {
					// Not refused: the guest runs into its stop check again.
					if !errors.Is(err, ErrStopped) || !errors.Is(err, context.Canceled) {
						t.Fatalf("spin after the stop through wazero = %v, want ErrStopped and context.Canceled", err)
					}
					return
				}
				trappedWant.check(t, err)
			})
		})
	}
}

// spinWait and stopBound as in the stop flag's tests.
const (
	spinWait  = 50 * time.Millisecond
	stopBound = 5 * time.Second
)

// TestHaltedCallsComponent: a call of a component's export (Func.Call)
// into an instance that was closed, whose guest exited or trapped, or
// whose call a context stopped, reports the errors a core module's
// generated callers do; Run after Close too.
func TestHaltedCallsComponent(t *testing.T) {
	ctx := context.Background()
	rt, host := reenterRuntime(t)
	c := reenterComponent(t)
	run := func(t *testing.T, ctx context.Context, callback func(context.Context, uint32) uint32) (*ComponentInstance, func() error) {
		inst, err := rt.InstantiateComponent(ctx, c, ModuleConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { inst.Close(context.Background()) })
		f, err := inst.Component().Func("run")
		if err != nil {
			t.Fatal(err)
		}
		host.callback = callback
		return inst, func() error { _, err := f.Call(inst.Context(), uint32(1)); return err }
	}
	ok := func(_ context.Context, n uint32) uint32 { return n }
	t.Run("closed", func(t *testing.T) {
		inst, call := run(t, ctx, ok)
		if err := inst.Close(ctx); err != nil {
			t.Fatal(err)
		}
		closedWant.check(t, call())
	})
	t.Run("exited", func(t *testing.T) {
		_, call := run(t, ctx, func(context.Context, uint32) uint32 { panic(sys.NewExitError(5)) })
		var exit *sys.ExitError
		if err := call(); !errors.As(err, &exit) || exit.ExitCode() != 5 {
			t.Fatalf("run = %v, want the exit with code 5", err)
		}
		exitedWant.check(t, call())
	})
	t.Run("trapped", func(t *testing.T) {
		_, call := run(t, ctx, func(context.Context, uint32) uint32 { panic("host failure") })
		if err := call(); err == nil || !strings.Contains(err.Error(), "host failure") {
			t.Fatalf("run = %v, want the trap", err)
		}
		trappedWant.check(t, call())
	})
	t.Run("stopped", func(t *testing.T) {
		// The callback waits as the runtime's blocking calls do, and
		// ends with the context as they do: the guest exits with
		// sys.ExitCodeContextCanceled, which marks the instance trapped.
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		_, call := run(t, cctx, func(ctx context.Context, _ uint32) uint32 {
			<-ctx.Done()
			panic(sys.NewExitError(sys.ExitCodeContextCanceled))
		})
		done := make(chan error, 1)
		go func() { done <- call() }()
		time.Sleep(spinWait)
		cancel()
		select {
		case err := <-done:
			var exit *sys.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != sys.ExitCodeContextCanceled {
				t.Fatalf("run = %v, want the context-cancelled exit", err)
			}
		case <-time.After(stopBound):
			t.Fatalf("the waiting call did not stop within %v", stopBound)
		}
		trappedWant.check(t, call())
	})
	t.Run("Run closed", func(t *testing.T) {
		inst, err := newComponentRuntime(t).InstantiateComponent(ctx, helloComponent(t), ModuleConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if err := inst.Close(ctx); err != nil {
			t.Fatal(err)
		}
		closedWant.check(t, inst.Run())
	})
}
