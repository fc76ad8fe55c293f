//go:build wasip1

package wasinet

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/guest/poll"
)

// deadline is a settable deadline whose changes wake pending waits. The
// zero value is ready to use, so that streams embed it.
//
// A wait of the stream that owns the deadline, one at a time (wait), is
// woken through the deadline's poll.Canceler: a change or the close
// interrupts it, with no channel to make and close and no select, and a
// wait with no deadline set takes no lock to begin. A wait of several
// goroutines at once (a dual-stack UDP read, waitEither) selects on a
// channel instead, made by the first such wait (get) and closed and
// forgotten when the deadline changes or closes. Closing a deadline that
// no wait is using and that has no channel takes no lock (a Close or
// Detach closes one per stream, and under wazero's termination checks
// each Lock and Unlock costs the guest several calls out of it).
type deadline struct {
	mu sync.Mutex
	t  time.Time
	ch chan struct{} // nil until a wait needs it; closed when t changes or on close
	// c interrupts the wait in progress (watch) when t changes or on close.
	c poll.Canceler
	// state holds stateClosed, stateTimed, stateWatched and stateWaiting,
	// for isClosed, fast, expired, watch and close without the lock.
	// stateWatched is set while ch is not nil and changes only under mu;
	// stateClosed never clears.
	state atomic.Uint32
}

const (
	stateClosed  = 1 << iota // close was called
	stateTimed               // a deadline is set
	stateWatched             // ch is made: a wait may be using it
	stateWaiting             // a wait with c is in progress (watch to unwatch)
)

func newDeadline() *deadline { return &deadline{} }

// get returns the deadline and the channel that is closed when it changes,
// for a wait (nil once closed).
func (d *deadline) get() (time.Time, <-chan struct{}, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.ch == nil {
		st := d.state.Load()
		if st&stateClosed != 0 {
			return d.t, nil, true
		}
		// A close without the lock may come between the load and the
		// swap: then the swap fails, and the next turn sees it closed.
		if d.state.CompareAndSwap(st, st|stateWatched) {
			d.ch = make(chan struct{})
		}
	}
	// Closed with a channel made is closed under the lock, which also
	// forgets the channel: d is open.
	return d.t, d.ch, false
}

// watch begins a wait with d.c: it returns the deadline and the stamp to
// wait with (poll.WaitSince), or closed. Every change of the deadline and
// the close interrupt d.c until unwatch, so that a change between watch
// and the wait's start ends the wait at once and the caller waits again
// on the new deadline. With no deadline set it takes no lock. Waits with
// d.c run one at a time.
func (d *deadline) watch() (t time.Time, stamp uint32, closed bool) {
	stamp = d.c.Stamp()
	for {
		st := d.state.Load()
		if st&stateClosed != 0 {
			return time.Time{}, stamp, true
		}
		if st&stateTimed != 0 {
			break
		}
		// A set or close in between changes the state: the swap fails,
		// and the next turn sees what it did.
		if d.state.CompareAndSwap(st, st|stateWaiting) {
			return time.Time{}, stamp, false
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		st := d.state.Load()
		if st&stateClosed != 0 {
			return d.t, stamp, true
		}
		if d.state.CompareAndSwap(st, st|stateWaiting) {
			return d.t, stamp, false
		}
	}
}

// unwatch ends the wait watch began.
func (d *deadline) unwatch() { d.state.And(^uint32(stateWaiting)) }

// peek returns the deadline and whether it was closed, for a caller that
// does not wait.
func (d *deadline) peek() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t, d.isClosed()
}

// isClosed reports whether close was called. It takes no lock: a Write
// checks it on every call (a lock costs the guest a call out per Lock, see
// StreamWriter.Write).
func (d *deadline) isClosed() bool { return d.state.Load()&stateClosed != 0 }

// fast reports, without the lock, that d is neither closed nor set: an
// operation may then run without looking at the clock.
func (d *deadline) fast() bool { return d.state.Load()&(stateClosed|stateTimed) == 0 }

// expired reports whether a deadline is set and has passed. Without a
// deadline it reads no clock and takes no lock.
func (d *deadline) expired() bool {
	if d.state.Load()&stateTimed == 0 {
		return false
	}
	t, _ := d.peek()
	return !t.IsZero() && !time.Now().Before(t)
}

// set sets the deadline and wakes the waits on it; once d is closed it
// does nothing and returns false.
func (d *deadline) set(t time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.isClosed() {
		return false
	}
	d.t = t
	if t.IsZero() {
		d.state.And(^uint32(stateTimed))
	} else {
		d.state.Or(stateTimed)
	}
	d.wakeLocked()
	return true
}

// wakeLocked closes and forgets the channel of the waits, if one was made,
// and interrupts the wait with d.c in progress, if any. d.mu is held.
func (d *deadline) wakeLocked() {
	if d.ch != nil {
		close(d.ch)
		d.ch = nil
		d.state.And(^uint32(stateWatched))
	}
	if d.state.Load()&stateWaiting != 0 {
		d.c.Interrupt()
	}
}

// close wakes every wait for good. While no wait is in progress and none
// made a channel, it only marks d closed, without the lock: a wait that
// begins after (watch, get) finds d closed instead.
func (d *deadline) close() {
	for {
		st := d.state.Load()
		if st&stateClosed != 0 {
			return
		}
		if st&(stateWatched|stateWaiting) != 0 {
			break
		}
		if d.state.CompareAndSwap(st, st|stateClosed) {
			return
		}
	}
	d.mu.Lock()
	d.state.Or(stateClosed)
	d.wakeLocked()
	d.mu.Unlock()
}
