package pinname

import (
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"
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
