//go:build wasip1

package wasinet

import (
	"sync"
	"sync/atomic"
	"time"
)

// deadline is a settable deadline whose changes wake pending waits. The
// zero value is ready to use, so that streams embed it.
//
// The channel that wakes waits is made by the first wait (get) and closed
// and forgotten when the deadline changes or closes: a stream that never
// waits, such as a connection's before its streams move to a TLS
// connection, or a TLS connection's writer, makes none. Closing a deadline
// that has no channel takes no lock (a Close or Detach closes one per
// stream, and under wazero's termination checks each Lock and Unlock costs
// the guest several calls out of it).
type deadline struct {
	mu sync.Mutex
	t  time.Time
	ch chan struct{} // nil until a wait needs it; closed when t changes or on close
	// state holds stateClosed, stateTimed and stateWatched, for isClosed,
	// fast, expired and close without the lock. stateWatched is set while
	// ch is not nil and changes only under mu; stateClosed never clears.
	state atomic.Uint32
}

const (
	stateClosed  = 1 << iota // close was called
	stateTimed               // a deadline is set
	stateWatched             // ch is made: a wait may be using it
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

// wakeLocked closes and forgets the channel of the waits, if one was made.
// d.mu is held.
func (d *deadline) wakeLocked() {
	if d.ch != nil {
		close(d.ch)
		d.ch = nil
		d.state.And(^uint32(stateWatched))
	}
}

// close wakes every wait for good. While no wait made a channel, it only
// marks d closed, without the lock: a wait that makes one after (get)
// finds d closed instead.
func (d *deadline) close() {
	for {
		st := d.state.Load()
		if st&stateClosed != 0 {
			return
		}
		if st&stateWatched != 0 {
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
