package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/link"
)

// reenterHost serves example:reenter/host, whose callback is the test's.
type reenterHost struct {
	callback func(ctx context.Context, n uint32) uint32
}

func (*reenterHost) Register(context.Context, wazero.Runtime) error { return nil }

func (h *reenterHost) Implementations() []link.Implementation {
	i32 := []api.ValueType{api.ValueTypeI32}
	return []link.Implementation{{
		Interface: "example:reenter/host", Version: "0.1.0",
		Functions: func(string) []cabi.HostFunc {
			return []cabi.HostFunc{{Name: "callback", Params: i32, Results: i32, Fn: func(ctx context.Context, _ api.Module, stack []uint64) {
				stack[0] = uint64(h.callback(ctx, uint32(stack[0])))
			}}}
		},
	}}
}

func reenterComponent(t *testing.T) *component.Component {
	c, err := component.Parse(cguest.Build(t, cguest.Spec{
		Sources: []string{"testdata/components/reenter/reenter.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry"},
		WIT:     "testdata/components/reenter/reenter.wit", World: "reenter",
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reenterRuntime is a Runtime serving a reenterHost, on a wazero runtime
// closed when the test ends.
func reenterRuntime(t *testing.T) (*Runtime, *reenterHost) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	host := &reenterHost{}
	rt, err := New(ctx, r, Config{Extensions: []Extension{host}})
	if err != nil {
		t.Fatal(err)
	}
	return rt, host
}

// TestComponentReentry: one call at a time enters a component instance.
// A host function the component called that calls back into it, and a
// call from another goroutine while one is in progress, are refused at
// once with cabi.ErrInstanceBusy: the component (which traps if entered
// twice) never sees them, the call in progress completes, and the
// instance stays usable.
func TestComponentReentry(t *testing.T) {
	ctx := context.Background()
	rt, host := reenterRuntime(t)
	c := reenterComponent(t)
	inst, err := rt.InstantiateComponent(ctx, c, ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	run, err := inst.Component().Func("run")
	if err != nil {
		t.Fatal(err)
	}
	call := func(n uint32) (any, error) { return run.Call(inst.Context(), n) }

	t.Run("re-entered from a host function", func(t *testing.T) {
		var inner error
		host.callback = func(ctx context.Context, n uint32) uint32 {
			_, inner = run.Call(ctx, 0)
			return 2 * n
		}
		if v, err := call(20); err != nil || v != uint32(41) {
			t.Fatalf("run(20) = %v, %v, want 41", v, err)
		}
		if !errors.Is(inner, cabi.ErrInstanceBusy) {
			t.Fatalf("the re-entering call: %v, want cabi.ErrInstanceBusy", inner)
		}
	})

	t.Run("two goroutines", func(t *testing.T) {
		entered, release := make(chan struct{}), make(chan struct{})
		host.callback = func(ctx context.Context, n uint32) uint32 {
			close(entered)
			<-release
			return n
		}
		first := make(chan error, 1)
		go func() {
			v, err := call(7)
			if err == nil && v != uint32(8) {
				err = errors.New("run(7) returned the wrong value")
			}
			first <- err
		}()
		select {
		case <-entered:
		case err := <-first:
			t.Fatalf("the first call: %v", err)
		}
		second := make(chan error, 1)
		go func() {
			_, err := call(1)
			second <- err
		}()
		select {
		case err := <-second:
			if !errors.Is(err, cabi.ErrInstanceBusy) {
				t.Errorf("the second goroutine's call: %v, want cabi.ErrInstanceBusy", err)
			}
		case <-time.After(callStopBound):
			// The first call waits for release: one that waited for it
			// would never return, so the bound is only a margin.
			t.Error("the second goroutine's call waits for the first")
		}
		close(release)
		if err := <-first; err != nil {
			t.Fatalf("the first call: %v", err)
		}
	})

	host.callback = func(_ context.Context, n uint32) uint32 { return n }
	if v, err := call(1); err != nil || v != uint32(2) {
		t.Fatalf("run(1) after the refused calls = %v, %v: the instance should be usable", v, err)
	}
}

// TestNestedCallsLimit: a component whose destructor drops another of its
// resources runs that destructor inside its resource.drop, one level
// deeper each time, holding host stack while it holds one handle. Past
// Limits.NestedCalls (--max-nested-calls) the drop traps naming the
// limit, at the default too, where before nothing bounded the host's
// goroutine stack short of Go's fatal stack overflow (which a chain of 3
// million reached in an [export] module, TestDestructorChainDepth). Each
// instance runs its chain under its own limit, and each instance that
// crosses it logs one record naming the cap and the guest (capreport).
// Chains within the limit complete: each nested destructor runs in an
// api.Function of its own (one reused while its call was in progress had
// its frames overwritten, and the outer destructor ran its drop twice).
func TestNestedCallsLimit(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	host := &reenterHost{callback: func(_ context.Context, n uint32) uint32 { return n }}
	log, rec := capreporttest.New()
	rt, err := New(ctx, r, Config{Logger: log, Extensions: []Extension{host}})
	if err != nil {
		t.Fatal(err)
	}
	c := reenterComponent(t)
	unwind := func(lim Limits, n uint32) error {
		inst, err := rt.InstantiateComponent(ctx, c, ModuleConfig{Limits: lim})
		if err != nil {
			t.Fatal(err)
		}
		defer inst.Close(ctx)
		f, err := inst.Component().Func("example:reenter/chain@0.1.0", "unwind")
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Call(inst.Context(), n)
		return err
	}
	for _, tc := range []struct {
		lim   Limits
		n     uint32 // unwind(n) nests n destructors
		limit int    // 0: fits
	}{
		{Limits{NestedCalls: 10}, 10, 0},
		{Limits{NestedCalls: 10}, 11, 10},
		{Limits{}, cabi.DefaultNestingLimit, 0},
		{Limits{}, 1_000_000, cabi.DefaultNestingLimit},
	} {
		err := unwind(tc.lim, tc.n)
		if tc.limit == 0 {
			if err != nil {
				t.Errorf("unwind(%d) under %+v: %v", tc.n, tc.lim, err)
			}
			continue
		}
		var trap *cabi.Trap
		if !errors.As(err, &trap) || !strings.Contains(trap.Msg, fmt.Sprintf("nest deeper than %d", tc.limit)) || !strings.Contains(trap.Msg, "--max-nested-calls") {
			t.Errorf("unwind(%d) under %+v: %.300v, want a trap naming the limit", tc.n, tc.lim, err)
		}
		if len(err.Error()) > 4096 {
			t.Errorf("unwind(%d): the error is %d bytes: each level of nesting wrapped it once more", tc.n, len(err.Error()))
		}
		if tc.limit == 10 {
			if err := rec.Check("--max-nested-calls", 10, 1); err != nil {
				t.Error(err)
			}
		}
	}
	if flags := rec.Flags(); len(flags) != 2 || flags[1] != "--max-nested-calls" {
		t.Errorf("records name %v, want --max-nested-calls once for each of the two instances past the limit", flags)
	}
}

// TestComponentStackLimit: Limits.Stack bounds a component's core
// instances with the stop flag and under wazero's termination checks
// (where before only the stop flag's rewrite counted frames): a chain of
// destructors nested inside drops, allowed by NestedCalls, runs within
// the default budget and traps with the budget's error, naming the
// field and the flag, under one of 64 KiB.
func TestComponentStackLimit(t *testing.T) {
	ctx := context.Background()
	c := reenterComponent(t)
	for _, stop := range []bool{false, true} {
		cfg := NewRuntimeConfig()
		if stop {
			cfg = NewFastRuntimeConfig()
		}
		r := wazero.NewRuntimeWithConfig(ctx, cfg)
		t.Cleanup(func() { r.Close(ctx) })
		rt, err := New(ctx, r, Config{StopFlag: stop, Extensions: []Extension{&reenterHost{}}, Limits: Limits{NestedCalls: 100_000}})
		if err != nil {
			t.Fatal(err)
		}
		for _, stack := range []int64{0, 64 << 10} {
			inst, err := rt.InstantiateComponent(ctx, c, ModuleConfig{Limits: Limits{Stack: stack}})
			if err != nil {
				t.Fatal(err)
			}
			f, err := inst.Component().Func("example:reenter/chain@0.1.0", "unwind")
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Call(inst.Context(), uint32(2000))
			inst.Close(ctx)
			if stack == 0 {
				if err != nil {
					t.Errorf("stop flag %v: 2,000 nested destructors under the default budget: %.300v", stop, err)
				}
				continue
			}
			if !errors.Is(err, cabi.ErrStackExceeded) || !strings.Contains(err.Error(), "of 65536 bytes (runtime.Limits.Stack, wasitls run --max-stack)") {
				t.Errorf("stop flag %v: 2,000 nested destructors under 64 KiB: %.300v, want the budget's error", stop, err)
			}
		}
	}
}

// TestComponentNilInstance: a component instantiated without a
// cabi.Instance (component.Instantiate's ci nil, no runtime around it)
// gets one of its own, with the same guards: a host function calling
// back into it is refused with cabi.ErrInstanceBusy, a call after one
// that trapped with cabi.ErrTrapped, a call after one that exited with
// cabi.ErrExited naming the code, and after Close with "instance is
// closed", the guest never entered again. Close closes the instance it
// made.
func TestComponentNilInstance(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	host := &reenterHost{}
	l, err := link.NewLinker(host.Implementations()...)
	if err != nil {
		t.Fatal(err)
	}
	c := reenterComponent(t)
	instantiate := func(t *testing.T) (*component.Instance, *component.Func) {
		inst, err := component.Instantiate(ctx, r, c, nil, l)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { inst.Close(ctx) })
		run, err := inst.Func("run")
		if err != nil {
			t.Fatal(err)
		}
		return inst, run
	}
	refused := func(t *testing.T, run *component.Func, want error, msg string) {
		t.Helper()
		entered := false
		host.callback = func(context.Context, uint32) uint32 { entered = true; return 0 }
		_, err := run.Call(ctx, 1)
		if err == nil || want != nil && !errors.Is(err, want) || !strings.Contains(err.Error(), msg) || entered {
			t.Fatalf("run after: %v (entered %v), want refused with %v, %q", err, entered, want, msg)
		}
	}

	t.Run("re-entered", func(t *testing.T) {
		_, run := instantiate(t)
		var inner error
		host.callback = func(ctx context.Context, n uint32) uint32 {
			_, inner = run.Call(ctx, 0)
			return 2 * n
		}
		if v, err := run.Call(ctx, 20); err != nil || v != uint32(41) {
			t.Fatalf("run(20) = %v, %v, want 41", v, err)
		}
		if !errors.Is(inner, cabi.ErrInstanceBusy) {
			t.Fatalf("the re-entering call: %v, want cabi.ErrInstanceBusy", inner)
		}
		host.callback = func(_ context.Context, n uint32) uint32 { return n }
		if v, err := run.Call(ctx, 1); err != nil || v != uint32(2) {
			t.Fatalf("run(1) after the refused re-entry = %v, %v, want 2", v, err)
		}
	})
	t.Run("trapped", func(t *testing.T) {
		_, run := instantiate(t)
		host.callback = func(context.Context, uint32) uint32 { panic("host failure") }
		if _, err := run.Call(ctx, 1); err == nil || !strings.Contains(err.Error(), "host failure") {
			t.Fatalf("run with a failing host: %v, want the trap", err)
		}
		refused(t, run, cabi.ErrTrapped, "run: instance has trapped before")
	})
	t.Run("exited", func(t *testing.T) {
		_, run := instantiate(t)
		host.callback = func(context.Context, uint32) uint32 { panic(sys.NewExitError(5)) }
		var exit *sys.ExitError
		if _, err := run.Call(ctx, 1); !errors.As(err, &exit) || exit.ExitCode() != 5 {
			t.Fatalf("run with a host that exits: %v, want exit code 5", err)
		}
		refused(t, run, cabi.ErrExited, "run: instance has exited with code 5")
	})
	t.Run("closed", func(t *testing.T) {
		inst, run := instantiate(t)
		if err := inst.Close(ctx); err != nil {
			t.Fatal(err)
		}
		refused(t, run, cabi.ErrClosed, "run: instance is closed")
	})
}
