package runtime

import (
	"context"
	"testing"
	"time"
	"weak"

	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime/component"
)

// TestComponentMemoryOutlivesInstance: a component's memories stay
// mapped while an embedder holds what calls its exports (a
// component.Func, which reaches the component.Instance), though it no
// longer holds the *ComponentInstance, and are released once neither is
// reachable and the wazero.Runtime, which holds the core modules of an
// instance never closed, has closed them. Before, their cleanup belonged to the ComponentInstance: a
// garbage collection during an export called through a Func unmapped
// them under the running guest, and the process died of a SIGSEGV.
//
// The close hook wazero calls as it closes a core module (the instance's
// closeWatch) holds the ComponentInstance as long as wazero holds the
// modules, which would keep the memories mapped whatever their cleanup
// belongs to; the test takes that hold away, so that it fails if the
// cleanup goes back to the ComponentInstance.
func TestComponentMemoryOutlivesInstance(t *testing.T) {
	rt := newComponentRuntime(t)
	c, err := component.Parse(cguest.Build(t, calcSpec(false)))
	if err != nil {
		t.Fatal(err)
	}
	f, budget, gone := func() (*component.Func, *memoryBudget, weak.Pointer[ComponentInstance]) {
		inst, err := rt.InstantiateComponent(context.Background(), c, ModuleConfig{})
		if err != nil {
			t.Fatal(err)
		}
		w := inst.watch
		w.mu.Lock()
		w.busy, w.onStop = nil, nil // the hook's hold on inst
		w.mu.Unlock()
		f, err := inst.Component().Func("add")
		if err != nil {
			t.Fatal(err)
		}
		return f, inst.memory, weak.Make(inst)
	}()
	released, collect := budget.isReleased, collectUntil
	if !collect(10*time.Second, func() bool { return gone.Value() == nil }) {
		t.Fatal("the ComponentInstance is still reachable: something else holds it, and the test tests nothing")
	}
	// Cleanups run after the collection that found their object
	// unreachable, on a goroutine of their own: give one queued for the
	// ComponentInstance time to run.
	if collect(time.Second, released) {
		t.Fatal("the memories were released with the ComponentInstance, while a Func of the component is held")
	}
	if v, err := f.Call(context.Background(), int32(2), int32(3)); err != nil || v != int32(5) {
		t.Fatalf("add(2, 3) = %v, %v", v, err)
	}
	// f is dead from here. The instance was never closed: wazero's store
	// holds its core modules, and so the memories, until the runtime
	// closes.
	if collect(time.Second, released) {
		t.Fatal("the memories were released while wazero's store holds the core modules")
	}
	rt.r.Close(context.Background())
	if !collect(10*time.Second, released) {
		t.Fatal("the memories are still mapped once nothing reaches the component")
	}
}
