//go:build wasip1

package poll

import (
	"os"
	"runtime"
	"time"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/clocks"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// round is one turn of the goroutine that polls: let the runnable
// goroutines run, then one wasi:io/poll.poll over every registered
// pollable, then wake the waiters that are ready or past their deadline.
// isHelper tells whether the caller is the helper goroutine; self and
// cancel are the caller's own wait when it is not. s.mu is held, and
// released only while settle yields.
func (s *poller) round(isHelper bool, self *waiter, cancel <-chan struct{}) {
	idle, leads := s.settle(isHelper, self)
	if !leads {
		return // taken over while yielding
	}
	if !isHelper && self.index < 0 {
		return // canceled (Canceler.Cancel) while yielding
	}
	if cancel != nil {
		// Only a goroutine that ran during settle can have closed it.
		select {
		case <-cancel:
			if self.index >= 0 {
				s.unregisterLocked(self)
				self.err = ErrCanceled
			}
			return
		default:
		}
	}

	n := len(s.waiters)
	if n == 0 {
		return
	}
	timer, oneOff := s.immediateLocked(), false
	if idle {
		timer, oneOff = s.timerLocked()
	}
	// The host borrows the list during poll: it is heap memory, and the
	// timer goes in the spare slot after the handles.
	list := append(s.handles[:n], timer)
	s.handles = list[:n]
	s.ready = io.PollInto(list, s.ready[:0])
	if oneOff {
		timer.Drop()
	}

	// Indexes are ascending and refer to the list as it was during poll.
	// Completing from the highest down keeps them valid: a removal moves
	// the last waiter into the hole, and every waiter after the hole is
	// one that is not ready.
	for i := len(s.ready) - 1; i >= 0; i-- {
		j := int(s.ready[i])
		if j < n {
			s.completeLocked(s.waiters[j], nil)
		} else if timer == s.capTimer {
			s.capTimer.Drop()
			s.capTimer = 0
			s.yieldNext = true
		}
	}
	if s.deadlines > 0 {
		now := time.Now()
		for i := len(s.waiters) - 1; i >= 0; i-- {
			if w := s.waiters[i]; !w.deadline.IsZero() && !now.Before(w.deadline) {
				s.completeLocked(w, os.ErrDeadlineExceeded)
			}
		}
	}
}

// settle lets the goroutines that are runnable run before a poll, and
// reports whether the guest is idle (the poll may block).
//
// When every goroutine of the guest other than the caller is parked in
// Wait, none can be runnable: the guest is idle. Otherwise settle yields
// (runtime.Gosched) and looks again, until the others are all parked in
// Wait or two yields in a row come straight back with no wait registered
// or canceled (nothing else ran: the rest of the guest is blocked
// elsewhere, on a channel or a Go timer), at most busyYields times; then
// the guest is busy.
// The last poll having ended on the timer also forces one yield, so that
// the scheduler runs the Go timers that came due (time.Sleep,
// time.AfterFunc) even in a guest whose only goroutine waits here.
// s.mu is held, and released during each yield.
func (s *poller) settle(isHelper bool, self *waiter) (idle, leads bool) {
	yield := s.yieldNext
	s.yieldNext = false
	straight := false // the last yield came straight back
	for range busyYields {
		// cabi's gatekeeper is parked until a binding call waits.
		others := runtime.NumGoroutine() - 1 - s.parked - cabi.ParkedGoroutines()
		if s.helper && !isHelper {
			others-- // parked on wake, or woken to find the rounds taken
		}
		before := s.activity
		if others <= 0 && !yield {
			return true, true
		}
		s.yielding, s.timerYield = true, others <= 0
		s.mu.Unlock()
		yield = false
		start := clocks.Now()
		runtime.Gosched()
		s.mu.Lock()
		if !isHelper && self.away {
			s.backLocked(self)
		}
		if !s.leadsLocked(isHelper, self) {
			return false, false
		}
		s.yielding = false
		// How long the yield took matters only when nothing registered
		// or canceled a wait meanwhile: then the clock tells whether
		// something else ran. It takes two such yields in a row: once
		// every 61 scheduling rounds Go's scheduler runs the global run
		// queue first, where a yield puts the goroutine that yields, so
		// that one yield in so many comes straight back without the
		// runnable goroutines having run (findRunnable's fairness check).
		// The guest would block in poll with them still runnable, until
		// a pollable or the cap timer ends the poll.
		if s.activity == before && clocks.Now()-start < idleYield {
			if straight {
				return true, true
			}
			straight = true
		} else {
			straight = false
		}
	}
	return false, true
}

// immediateLocked returns the always-ready timer. s.mu is held.
func (s *poller) immediateLocked() io.Pollable {
	if s.immediate == 0 {
		s.immediate = clocks.SubscribeDuration(0)
	}
	return s.immediate
}

// timerLocked returns the timer of a blocking poll: the reusable one, ready
// at most MaxBlock from when it was made, or, when a waiter's deadline comes
// first, a one-off timer for it that the caller drops after the poll.
// s.mu is held.
func (s *poller) timerLocked() (timer io.Pollable, oneOff bool) {
	if s.capTimer == 0 {
		s.capAt = clocks.Now() + clocks.Duration(MaxBlock)
		s.capTimer = clocks.SubscribeInstant(s.capAt)
	}
	if s.deadlines == 0 {
		return s.capTimer, false
	}
	var first time.Time
	for _, w := range s.waiters {
		if !w.deadline.IsZero() && (first.IsZero() || w.deadline.Before(first)) {
			first = w.deadline
		}
	}
	d := time.Until(first)
	if d <= 0 {
		return s.immediateLocked(), false
	}
	if at := clocks.Now() + clocks.Duration(d); at < s.capAt {
		return clocks.SubscribeInstant(at), true
	}
	return s.capTimer, false
}
