package tlshost

import (
	"testing"
	"time"
)

// TestCloseWatch: a call that returns at once is never interrupted, one
// that blocks is interrupted after closeGrace to 2*closeGrace (with a
// second of slack for a loaded machine), and the watch's timer stops once
// nothing is watched.
func TestCloseWatch(t *testing.T) {
	var w closeWatch
	for range 100 {
		c := w.enter(testInterrupter(func() { t.Error("a call that returned at once was interrupted") }))
		w.leave(c)
	}

	start := time.Now()
	release := make(chan struct{})
	c := w.enter(testInterrupter(func() { close(release) }))
	select {
	case <-release:
	case <-time.After(10 * closeGrace):
		t.Fatal("a blocked call was not interrupted")
	}
	w.leave(c)
	if d := time.Since(start); d < closeGrace || d > 2*closeGrace+time.Second {
		t.Errorf("interrupted after %v, want %v to %v", d, closeGrace, 2*closeGrace)
	}

	deadline := time.Now().Add(10 * closeGrace)
	for {
		w.mu.Lock()
		ticking := w.ticking
		w.mu.Unlock()
		if !ticking {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch still ticks with nothing to watch")
		}
		time.Sleep(closeGrace / 10)
	}
}

// testInterrupter is an interrupter that calls itself.
type testInterrupter func()

func (f testInterrupter) interruptCall() { f() }
