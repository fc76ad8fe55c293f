package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
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

// TestComponentReentry: one call at a time enters a component instance.
// A host function the component called that calls back into it, and a
// call from another goroutine while one is in progress, are refused at
// once with cabi.ErrInstanceBusy: the component (which traps if entered
// twice) never sees them, the call in progress completes, and the
// instance stays usable.
func TestComponentReentry(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	host := &reenterHost{}
	rt, err := New(ctx, r, Config{Extensions: []Extension{host}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := component.Parse(cguest.Build(t, cguest.Spec{
		Sources: []string{"testdata/components/reenter/reenter.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry"},
		WIT:     "testdata/components/reenter/reenter.wit", World: "reenter",
	}))
	if err != nil {
		t.Fatal(err)
	}
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
		case <-time.After(time.Second):
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
