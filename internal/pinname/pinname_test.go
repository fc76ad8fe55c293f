package pinname

import (
	"context"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// TestPin: the name reads as given, empty too, and its release runs once
// nothing holds the name, not before.
func TestPin(t *testing.T) {
	for _, name := range []string{"", "guest", "a name longer than sixteen bytes"} {
		var released atomic.Bool
		held := Pin(name, func() { released.Store(true) })
		if held != name {
			t.Fatalf("Pin(%q) = %q", name, held)
		}
		for range 3 {
			goruntime.GC()
		}
		time.Sleep(10 * time.Millisecond)
		if released.Load() {
			t.Fatalf("%q: released while the name is held", name)
		}
		goruntime.KeepAlive(held)
		held = ""
		for deadline := time.Now().Add(10 * time.Second); !released.Load(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%q: not released once nothing holds the name", name)
			}
			goruntime.GC()
		}
	}
}

// TestPinGuest: a module instance named by PinGuest is a guest's, one
// named otherwise (equal string, another allocation) is not, and the
// release runs once nothing holds the name.
func TestPinGuest(t *testing.T) {
	var released atomic.Bool
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	c, err := r.CompileModule(ctx, []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName(PinGuest("guest", func() { released.Store(true) })))
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName(string([]byte("other"))))
	if err != nil {
		t.Fatal(err)
	}
	if !Guest(m) || Guest(other) || Guest(nil) {
		t.Fatalf("Guest: %v for the guest, %v for another module, %v for nil; want true, false, false", Guest(m), Guest(other), Guest(nil))
	}
	m.Close(ctx)
	m = nil
	for deadline := time.Now().Add(10 * time.Second); !released.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the guest's name was never released")
		}
		goruntime.GC()
	}
}
