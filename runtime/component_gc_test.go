package runtime_test

import (
	"context"
	"errors"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
)

// TestComponentMemoryOutlivesInstance: an embedder that keeps only the
// component.Func of an export it calls, not the *runtime.ComponentInstance,
// and collects garbage while the call runs (a loop writing the guest's
// memory), does not lose the guest's memory under it: the call returns
// with its context's end. Before, the memory was released with the
// ComponentInstance, unmapped under the running guest, and the process
// died of a SIGSEGV. Two things keep it now, each enough alone: the
// memory's cleanup belongs to the component.Instance the call holds, and
// the wazero close hook's closure holds the ComponentInstance; the test
// guards the behaviour, failing only if neither holds.
func TestComponentMemoryOutlivesInstance(t *testing.T) {
	spin := spinComponent(t)
	rt := fastRuntime(t, runtime.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, callCtx := func() (*component.Func, context.Context) {
		inst, err := rt.InstantiateComponent(ctx, spin, runtime.ModuleConfig{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := inst.Component().Func("spin")
		if err != nil {
			t.Fatal(err)
		}
		return f, inst.Context()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := f.Call(callCtx)
		done <- err
	}()
	// Twenty collections while the export runs, then the context ends.
	var giveUp <-chan time.Time
	for i := 0; ; i++ {
		goruntime.GC()
		if i == 20 {
			cancel()
			giveUp = time.After(stopBound)
		}
		select {
		case err := <-done:
			if i < 20 {
				t.Fatalf("the spin export returned before its context ended: %v", err)
			}
			if !errors.Is(err, runtime.ErrStopped) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want the stop by the context's end", err)
			}
			return
		case <-time.After(50 * time.Millisecond):
		case <-giveUp:
			t.Fatalf("the spin export still runs %v after its context ended", stopBound)
		}
	}
}
