//go:build wasip1

package poll

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/guest/wasi/clocks"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// ErrCanceled is returned by Wait when its cancel channel was closed. Wait
// returns it itself, never wrapped: a caller compares with ==, which costs
// the guest no call (errors.Is is one per Wait, on the nil of a wait that
// ended well too).
var ErrCanceled = errors.New("poll: wait canceled")

// MaxBlock caps how long the poller blocks in the host when the guest is
// idle. Go timers of the guest fire at most this late. Set it before the
// first Wait.
var MaxBlock = 10 * time.Millisecond

// idleYield is how long a yield may take and still count as "nothing else
// ran", in nanoseconds of the monotonic clock.
const idleYield = uint64(20 * time.Microsecond)

// busyYields is how many yields a round makes, while other goroutines keep
// working, before it polls without blocking.
const busyYields = 4

// A waiter is one pending Wait. Waiters are recycled: Wait allocates
// nothing once the guest has waited as many times at once as it ever will.
type waiter struct {
	p        io.Pollable
	deadline time.Time
	// done receives the result of a parked waiter. It is buffered, so the
	// poller never blocks on it, and empty whenever the waiter is free.
	done chan error
	// index is the position in state.waiters, -1 once unregistered.
	index int
	// polling marks the waiter whose goroutine runs the rounds itself: it
	// does not park, and its result goes to err instead of done. It is
	// cleared when another waiter takes the rounds over before this wait
	// is over; the goroutine parks then.
	polling bool
	// away marks a waiter whose goroutine was taken over while it yielded
	// and has not returned from its yield yet (counted in poller.away).
	away bool
	err  error
	// c is the Canceler of a WaitCanceler, nil for Wait.
	c *Canceler
}

// A Canceler ends the wait made with it (WaitCanceler) when Cancel is
// called, and every wait made with it after, as closing a cancel channel
// ends Wait's: with no channel to make and close, and no select for a wait
// whose goroutine is parked (in WebAssembly, a select and a channel made
// and closed per wait are a few µs of the guest's). The zero value is
// ready to use; a Canceler in use must not be copied.
//
// A Canceler can also be interrupted ([Canceler.Interrupt]), which ends
// only the wait in progress and the waits made with an earlier stamp
// ([WaitSince]): a wait on a deadline that was changed ends, and the next
// one, on the new deadline, waits.
type Canceler struct {
	canceled bool    // guarded by state.mu
	w        *waiter // the wait in progress, if any; guarded by state.mu
	// stamp counts the interrupts; it changes only under state.mu.
	stamp atomic.Uint32
}

// Cancel ends the wait in progress with ErrCanceled, and makes every later
// wait with c return ErrCanceled at once.
func (c *Canceler) Cancel() {
	s := &state
	s.mu.Lock()
	c.canceled = true
	c.endLocked()
	s.mu.Unlock()
}

// Interrupt ends the wait in progress with ErrCanceled, and every wait
// made with a stamp ([Canceler.Stamp]) taken before the interrupt; later
// waits wait.
func (c *Canceler) Interrupt() {
	s := &state
	s.mu.Lock()
	c.stamp.Add(1)
	c.endLocked()
	s.mu.Unlock()
}

// Stamp returns c's count of interrupts, for [WaitSince].
func (c *Canceler) Stamp() uint32 { return c.stamp.Load() }

// endLocked ends the wait in progress with ErrCanceled. state.mu is held.
func (c *Canceler) endLocked() {
	if w := c.w; w != nil {
		c.w = nil
		if w.index >= 0 {
			state.completeLocked(w, ErrCanceled)
			state.activity++
		}
	}
}

// A poller is the state every waiting goroutine shares; there is one, state.
type poller struct {
	mu      sync.Mutex
	waiters []*waiter
	// handles is parallel to waiters, with spare capacity so that a round
	// appends the timer without copying the list.
	handles []io.Pollable
	// parked counts registered waiters whose goroutine is parked on done;
	// deadlines counts registered waiters with a deadline.
	parked    int
	deadlines int
	activity  uint64 // counts registrations and cancellations
	// leader is the waiter whose goroutine runs the rounds, helperLeads
	// is set while the helper goroutine runs them; nobody does when both
	// are clear (pollingLocked). A Wait that finds someone running rounds
	// parks, unless that goroutine is yielding (in settle): then the new
	// waiter takes the rounds over, and a waiter that led parks as soon as
	// its yield returns.
	leader      *waiter
	helperLeads bool
	yielding    bool
	// timerYield is set while the goroutine that polls yields only so
	// that the Go timers that came due run (no other goroutine counted
	// as runnable).
	timerYield bool
	// away counts the waiters taken over while they yielded whose yield
	// has not returned yet. Each of them is runnable and comes back to the
	// poller (backLocked), so a leader whose wait is over while one is
	// away leaves the rounds to it instead of waking the helper.
	away  int
	free  []*waiter
	ready []uint32 // the last poll's result, reused

	// The helper goroutine takes the rounds when nobody runs them while
	// goroutines wait: a leader whose wait is over wakes it, and it runs
	// once the goroutines that can run have run, unless one of them waited
	// first and took the rounds. It is parked on wake otherwise.
	helper bool
	wake   chan struct{}

	// immediate is a zero-duration clock pollable, always ready: the timer
	// of a poll that must not block. capTimer is the timer of blocking
	// polls, ready at capAt (monotonic clock) and reused until it fires;
	// then yieldNext lets the scheduler run the Go timers that came due.
	immediate io.Pollable
	capTimer  io.Pollable
	capAt     clocks.Instant
	yieldNext bool
}

var state poller

// Wait parks the calling goroutine until p is ready. It returns nil when p is
// ready, os.ErrDeadlineExceeded once deadline (if not zero) has passed, and
// ErrCanceled when cancel (if not nil) is closed.
func Wait(p io.Pollable, deadline time.Time, cancel <-chan struct{}) error {
	return wait(p, deadline, cancel, nil, 0)
}

// WaitCanceler is Wait with a Canceler in place of the cancel channel: it
// returns ErrCanceled once c.Cancel was called.
func WaitCanceler(p io.Pollable, deadline time.Time, c *Canceler) error {
	return wait(p, deadline, nil, c, c.Stamp())
}

// WaitSince is WaitCanceler that also returns ErrCanceled at once when c
// was interrupted since stamp was taken ([Canceler.Stamp]): a caller that
// takes the stamp, then reads a deadline that an interrupt follows every
// change of, never waits on a deadline that changed before the wait began.
// Only one wait at a time may use c.
func WaitSince(p io.Pollable, deadline time.Time, c *Canceler, stamp uint32) error {
	return wait(p, deadline, nil, c, stamp)
}

// wait is Wait with a cancel channel or a Canceler and its stamp (or
// neither).
func wait(p io.Pollable, deadline time.Time, cancel <-chan struct{}, c *Canceler, stamp uint32) error {
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return os.ErrDeadlineExceeded
	}
	s := &state
	s.mu.Lock()
	if c != nil && (c.canceled || c.stamp.Load() != stamp) {
		s.mu.Unlock()
		return ErrCanceled
	}
	w := s.registerLocked(p, deadline)
	if c != nil {
		w.c, c.w = c, w
	}
	if !s.pollingLocked() || s.yielding {
		// Nobody polls, or the goroutine that polls yields to let the
		// others run: this goroutine polls, until its own wait is over
		// or another one takes the rounds over. A single waiting
		// goroutine thus never switches to another one, and a goroutine
		// that waits while another waits for longer (a connection's
		// while the server's accepts) polls for both without switching.
		s.takeLocked(w)
		if err, done := lead(w, cancel); done {
			return err
		}
		// Taken over before the wait was over: park (already counted
		// in s.parked by takeLocked).
	} else {
		s.parked++
		s.mu.Unlock()
	}

	var err error
	if cancel == nil {
		err = <-w.done
	} else {
		select {
		case err = <-w.done:
		case <-cancel:
			s.mu.Lock()
			canceled := w.index >= 0
			if canceled {
				s.unregisterLocked(w)
				s.activity++
			}
			s.mu.Unlock()
			if canceled {
				err = ErrCanceled
			} else {
				err = <-w.done // completed first
			}
		}
	}
	s.mu.Lock()
	s.releaseLocked(w)
	s.mu.Unlock()
	return err
}

// pollingLocked reports whether a goroutine runs the rounds. s.mu is held.
func (s *poller) pollingLocked() bool { return s.leader != nil || s.helperLeads }

// takeLocked makes w's goroutine the one that runs the rounds. When a
// waiter's goroutine ran them (it is yielding in settle) and its wait is
// not over, that goroutine parks when its yield returns: it counts as
// parked from now on, and its result goes to its done channel. The helper
// goes back to waiting for a wake. s.mu is held.
func (s *poller) takeLocked(w *waiter) {
	if old := s.leader; old != nil && old.index >= 0 {
		old.polling = false
		old.away = true
		s.away++
		s.parked++
	}
	s.leader, s.helperLeads, s.yielding = w, false, false
	w.polling = true
}

// leadsLocked reports whether the caller of a round still runs the
// rounds: the helper (isHelper) or self's goroutine. s.mu is held.
func (s *poller) leadsLocked(isHelper bool, self *waiter) bool {
	if isHelper {
		return s.helperLeads
	}
	return s.leader == self
}

// lead runs rounds on the waiting goroutine until w is done, and reports
// its result with done set. When another waiter took the rounds over
// before w was done it returns done clear, and the caller parks. A
// goroutine whose wait is over while others still wait leaves the rounds
// to whoever waits next, or to the helper goroutine, which it wakes.
//
// s.mu is held on entry and released on return. The rounds run with it
// held, but for their yields: a wait whose round does not yield takes the
// lock once (under wazero's termination checks each Lock and Unlock costs
// the guest several calls out of it).
func lead(w *waiter, cancel <-chan struct{}) (err error, done bool) {
	s := &state
	for {
		if !w.polling {
			s.mu.Unlock()
			return nil, false
		}
		if w.index < 0 {
			break
		}
		s.round(false, w, cancel)
	}
	err = w.err
	if s.leader == w {
		s.leader = nil
		if len(s.waiters) > 0 && s.away == 0 {
			s.wakeHelperLocked()
		}
	}
	s.releaseLocked(w)
	s.mu.Unlock()
	return err, true
}

// backLocked is the return of w's goroutine from a yield during which
// another waiter took the rounds over. When nobody runs the rounds now
// (the taker's wait ended, and it left them to w rather than wake the
// helper), w takes them back if its own wait is not over, and wakes the
// helper for the others if it is. A server's accept loop, taken over by
// its connection goroutine, thus polls again once the connection
// goroutine is done, with no switch to the helper and back. When the one
// who runs the rounds yields only for the Go timers, w takes them over as
// a new Wait would (else w would park, and the helper would poll for it
// later). When someone else runs the rounds, w parks (or returns, its
// wait over) as before, and the helper is not woken. s.mu is held.
func (s *poller) backLocked(w *waiter) {
	w.away = false
	s.away--
	polling := s.pollingLocked()
	if w.index >= 0 && (!polling || s.yielding && s.timerYield) {
		s.parked-- // counted as parked since it was taken over
		s.takeLocked(w)
		return
	}
	if !polling && len(s.waiters) > 0 {
		s.wakeHelperLocked()
	}
}

// wakeHelperLocked starts the helper goroutine on first use, and lets it
// run rounds once it runs, unless a waiting goroutine took them first.
// s.mu is held.
func (s *poller) wakeHelperLocked() {
	if !s.helper {
		s.helper = true
		s.wake = make(chan struct{}, 1)
		go helper()
	}
	select {
	case s.wake <- struct{}{}:
	default: // already woken
	}
}

// helper runs rounds whenever it is woken and nobody runs them, until
// nobody waits or a waiting goroutine takes the rounds over. It leaves
// them to a waiter that was taken over while it yielded and is not back
// yet: that waiter is runnable, and takes them back when it returns.
func helper() {
	s := &state
	for range s.wake {
		s.mu.Lock()
		for {
			if !s.helperLeads {
				if s.pollingLocked() || s.away > 0 {
					break // a waiter back from its yield takes them
				}
				s.helperLeads = true
			}
			if len(s.waiters) == 0 {
				s.helperLeads = false
				break
			}
			s.round(true, nil, nil)
		}
		s.mu.Unlock()
	}
}

// registerLocked adds a waiter for p. s.mu is held.
func (s *poller) registerLocked(p io.Pollable, deadline time.Time) *waiter {
	var w *waiter
	if n := len(s.free); n > 0 {
		w = s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
	} else {
		w = &waiter{done: make(chan error, 1)}
	}
	w.p, w.deadline = p, deadline
	w.index = len(s.waiters)
	s.waiters = append(s.waiters, w)
	s.handles = append(s.handles, p)
	if !deadline.IsZero() {
		s.deadlines++
	}
	s.activity++
	return w
}

// unregisterLocked swap-removes w. s.mu is held.
func (s *poller) unregisterLocked(w *waiter) {
	i, last := w.index, len(s.waiters)-1
	if i != last {
		s.waiters[i] = s.waiters[last]
		s.handles[i] = s.handles[last]
		s.waiters[i].index = i
	}
	s.waiters[last] = nil
	s.waiters = s.waiters[:last]
	s.handles = s.handles[:last]
	w.index = -1
	if !w.polling {
		s.parked--
	}
	if !w.deadline.IsZero() {
		s.deadlines--
	}
}

// completeLocked unregisters w with its result and wakes it. s.mu is held.
func (s *poller) completeLocked(w *waiter, err error) {
	s.unregisterLocked(w)
	if w.polling {
		w.err = err
	} else {
		w.done <- err
	}
}

// releaseLocked recycles an unregistered waiter. s.mu is held.
func (s *poller) releaseLocked(w *waiter) {
	if c := w.c; c != nil && c.w == w {
		c.w = nil
	}
	*w = waiter{done: w.done, index: -1}
	s.free = append(s.free, w)
}

// Pending returns the number of goroutines waiting.
func Pending() int {
	state.mu.Lock()
	defer state.mu.Unlock()
	return len(state.waiters)
}
