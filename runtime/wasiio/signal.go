package wasiio

import (
	"sync/atomic"

	"github.com/wasitls/wasitls/cabi"
)

// A Signal is a one-shot readiness source: it becomes ready when Fire is
// called and stays ready. It is the way code running on its own goroutines
// (a TLS handshake, a name lookup, a dial) resolves what a guest polls on.
// It is safe for concurrent use.
type Signal struct {
	fired   atomic.Bool
	waiters WaitList
}

// NewSignal returns a Signal that is not yet fired.
func NewSignal() *Signal { return &Signal{} }

// Fire makes the signal ready and wakes every call waiting on it. Firing
// twice is harmless.
func (s *Signal) Fire() {
	if s.fired.CompareAndSwap(false, true) {
		s.waiters.WakeAll()
	}
}

// Fired reports whether Fire was called.
func (s *Signal) Fired() bool { return s.fired.Load() }

// Ready implements Source.
func (s *Signal) Ready() bool { return s.fired.Load() }

// Watch implements Source.
func (s *Signal) Watch(w *Waker) { s.waiters.Add(w) }

// Unwatch implements Source.
func (s *Signal) Unwatch(w *Waker) { s.waiters.Remove(w) }

// Subscribe returns a new pollable over the signal, a child of parent (nil
// for none).
func (s *Signal) Subscribe(parent cabi.Resource) *Pollable { return NewPollable(s, parent) }
