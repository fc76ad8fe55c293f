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
// call is watched, and once more after the last one left. The calls are
// held by value and what interrupts them is an interface over the
// connection's guard, so that watching a call allocates nothing.
//
// The same timer completes the half-closes the guards deferred (see
// guard.CloseWrite) at its next tick, which comes at most closeGrace
// later: a guest that half-closed and holds its socket without calling
// the host shows the peer the end within that bound. A half-close is
// deferred inside a watched call (the backend's CloseWrite or Close), so
// that the timer usually ticks anyway.
type closeWatch struct {
	mu         sync.Mutex
	calls      []watchedCall
	lastID     uint64
	timer      *time.Timer
	ticking    bool
	halfCloses []laterCloser // completed at the next tick
}

// A watchedCall is one call in progress; ticks counts the ticks it saw.
type watchedCall struct {
	id        uint64
	interrupt interrupter
	ticks     int
}

// An interrupter makes a watched call return: it interrupts the
// transport the call writes to (see guard).
type interrupter interface{ interruptCall() }

// enter starts watching a call, which i makes return; leave(id) stops.
func (w *closeWatch) enter(i interrupter) (id uint64) {
	w.mu.Lock()
	w.lastID++
	id = w.lastID
	w.calls = append(w.calls, watchedCall{id: id, interrupt: i})
	w.startLocked()
	w.mu.Unlock()
	return id
}

// startLocked makes the timer tick if it does not; w.mu is held.
func (w *closeWatch) startLocked() {
	if !w.ticking {
		w.ticking = true
		if w.timer == nil {
			w.timer = time.AfterFunc(closeGrace, w.tick)
		} else {
			w.timer.Reset(closeGrace)
		}
	}
}

// later completes l's deferred half-close at the next tick.
func (w *closeWatch) later(l laterCloser) {
	w.mu.Lock()
	w.halfCloses = append(w.halfCloses, l)
	w.startLocked()
	w.mu.Unlock()
}

// leave stops watching the call id.
func (w *closeWatch) leave(id uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.calls {
		if w.calls[i].id == id {
			last := len(w.calls) - 1
			w.calls[i], w.calls[last] = w.calls[last], watchedCall{}
			w.calls = w.calls[:last]
			return
		}
	}
}

// tick completes the deferred half-closes, interrupts the calls that were
// in progress at the previous tick already, and ticks again while any call
// is watched.
func (w *closeWatch) tick() {
	var late []interrupter
	w.mu.Lock()
	due := w.halfCloses
	w.halfCloses = nil
	for i := range w.calls {
		c := &w.calls[i]
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
	for _, l := range due {
		l.CompleteCloseWrite()
	}
	for _, i := range late {
		i.interruptCall()
	}
}
