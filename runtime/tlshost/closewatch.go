package tlshost

import (
	"sync"
	"time"
)

// closes watches every call boundedInline runs.
var closes closeWatch

// A closeWatch interrupts the calls it watches that are still in progress
// at the second of its ticks, closeGrace apart, after they entered, with
// one timer for all of them. A timer of each call's own would be armed
// and stopped on every close, and arming a timer that is the earliest one
// wakes the thread that sleeps in the netpoller. The timer ticks while a
// call is watched, and once more after the last one left.
type closeWatch struct {
	mu      sync.Mutex
	calls   []*watchedCall
	timer   *time.Timer
	ticking bool
}

// A watchedCall is one call in progress; ticks counts the ticks it saw.
type watchedCall struct {
	interrupt func()
	ticks     int
}

// enter starts watching a call, whose interrupt makes it return.
func (w *closeWatch) enter(interrupt func()) *watchedCall {
	c := &watchedCall{interrupt: interrupt}
	w.mu.Lock()
	w.calls = append(w.calls, c)
	if !w.ticking {
		w.ticking = true
		if w.timer == nil {
			w.timer = time.AfterFunc(closeGrace, w.tick)
		} else {
			w.timer.Reset(closeGrace)
		}
	}
	w.mu.Unlock()
	return c
}

// leave stops watching c.
func (w *closeWatch) leave(c *watchedCall) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, x := range w.calls {
		if x == c {
			last := len(w.calls) - 1
			w.calls[i], w.calls[last] = w.calls[last], nil
			w.calls = w.calls[:last]
			return
		}
	}
}

// tick interrupts the calls that were in progress at the previous tick
// already, and ticks again while any call is watched.
func (w *closeWatch) tick() {
	var late []func()
	w.mu.Lock()
	for _, c := range w.calls {
		if c.ticks++; c.ticks == 2 {
			late = append(late, c.interrupt)
		}
	}
	if len(w.calls) > 0 {
		w.timer.Reset(closeGrace)
	} else {
		w.ticking = false
	}
	w.mu.Unlock()
	for _, interrupt := range late {
		interrupt()
	}
}
