//go:build wasip1

package poll

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/wasitls/wasitls/guest/wasi/clocks"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// ErrCanceled is returned by Wait when its cancel channel was closed.
var ErrCanceled = errors.New("poll: wait canceled")

// MaxBlock caps how long the poller blocks in the host when the guest is
// idle. Go timers of the guest fire at most this late. Set it before the
// first Wait.
var MaxBlock = 10 * time.Millisecond

// idleYield is how long a yield may take and still count as "nothing else
// ran".
const idleYield = 20 * time.Microsecond

// busyYields is how many yields the poller makes, while other goroutines
// keep working, before it polls without blocking.
const busyYields = 4

type waiter struct {
	p        io.Pollable
	deadline time.Time
	done     chan error // buffered: the poller never blocks on it
	index    int        // position in state.waiters, -1 once completed
}

var state struct {
	mu       sync.Mutex
	waiters  []*waiter
	handles  []io.Pollable // parallel to waiters
	activity uint64        // counts registrations
	wake     chan struct{}
	started  bool
}

var immediate io.Pollable // zero-duration clock pollable: always ready

// Wait parks the calling goroutine until p is ready. It returns nil when p is
// ready, os.ErrDeadlineExceeded once deadline (if not zero) has passed, and
// ErrCanceled when cancel (if not nil) is closed.
func Wait(p io.Pollable, deadline time.Time, cancel <-chan struct{}) error {
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return os.ErrDeadlineExceeded
	}
	w := &waiter{p: p, deadline: deadline, done: make(chan error, 1)}
	register(w)
	select {
	case err := <-w.done:
		return err
	case <-cancel:
		if unregister(w) {
			return ErrCanceled
		}
		return <-w.done
	}
}

func register(w *waiter) {
	s := &state
	s.mu.Lock()
	if !s.started {
		s.started = true
		s.wake = make(chan struct{}, 1)
		immediate = clocks.SubscribeDuration(0)
		go loop()
	}
	w.index = len(s.waiters)
	s.waiters = append(s.waiters, w)
	s.handles = append(s.handles, w.p)
	s.activity++
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// unregister removes w; it reports false when the poller completed w first.
func unregister(w *waiter) bool {
	s := &state
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.index < 0 {
		return false
	}
	removeAt(w.index)
	return true
}

// removeAt swap-removes waiter i. s.mu is held.
func removeAt(i int) {
	s := &state
	last := len(s.waiters) - 1
	w := s.waiters[i]
	if i != last {
		s.waiters[i] = s.waiters[last]
		s.handles[i] = s.handles[last]
		s.waiters[i].index = i
	}
	s.waiters[last] = nil
	s.waiters = s.waiters[:last]
	s.handles = s.handles[:last]
	w.index = -1
}

// Pending returns the number of goroutines waiting.
func Pending() int {
	state.mu.Lock()
	defer state.mu.Unlock()
	return len(state.waiters)
}

func loop() {
	s := &state
	var list []io.Pollable // heap: the host borrows it during poll
	for {
		s.mu.Lock()
		n := len(s.waiters)
		s.mu.Unlock()
		if n == 0 {
			<-s.wake
			continue
		}

		// Yield until a yield comes straight back with no new wait
		// registered (idle), at most busyYields times; then poll without
		// blocking, so that a busy guest still sees its I/O.
		idle := false
		for range busyYields {
			s.mu.Lock()
			before := s.activity
			s.mu.Unlock()
			start := time.Now()
			runtime.Gosched()
			s.mu.Lock()
			idle = s.activity == before && time.Since(start) < idleYield
			s.mu.Unlock()
			if idle {
				break
			}
		}
		s.mu.Lock()
		if len(s.waiters) == 0 {
			s.mu.Unlock()
			continue
		}

		now := time.Now()
		timer, own := immediate, false
		if idle {
			d := MaxBlock
			for _, w := range s.waiters {
				if !w.deadline.IsZero() {
					d = min(d, w.deadline.Sub(now))
				}
			}
			if d > 0 {
				timer, own = clocks.SubscribeDuration(clocks.Duration(d)), true
			}
		}
		list = append(append(list[:0], s.handles...), timer)
		ready := io.Poll(list)
		if own {
			timer.Drop()
		}

		// Complete the ready waiters, then the expired ones. Indexes refer
		// to list, which mirrors s.waiters as it was during poll.
		n = len(list) - 1
		done := make([]*waiter, 0, len(ready))
		for _, i := range ready {
			if int(i) < n {
				done = append(done, s.waiters[i])
			}
		}
		for _, w := range done {
			if w.index >= 0 {
				removeAt(w.index)
				w.done <- nil
			}
		}
		now = time.Now()
		for i := 0; i < len(s.waiters); {
			w := s.waiters[i]
			if !w.deadline.IsZero() && !now.Before(w.deadline) {
				removeAt(i)
				w.done <- os.ErrDeadlineExceeded
				continue
			}
			i++
		}
		s.mu.Unlock()
	}
}
