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
// connection, or a TLS connection's writer, makes none.
type deadline struct {
	mu     sync.Mutex
	t      time.Time
	ch     chan struct{} // nil until a wait needs it; closed when t changes or on close
	closed bool
	gone   atomic.Bool // closed, for isClosed without the lock
}

func newDeadline() *deadline { return &deadline{} }

// get returns the deadline and the channel that is closed when it changes,
// for a wait (nil once closed).
func (d *deadline) get() (time.Time, <-chan struct{}, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ch == nil && !d.closed {
		d.ch = make(chan struct{})
	}
	return d.t, d.ch, d.closed
}

// peek returns the deadline and whether it was closed, for a caller that
// does not wait.
func (d *deadline) peek() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t, d.closed
}

// isClosed reports whether close was called. It takes no lock: a Write
// checks it on every call (a lock costs the guest a call out per Lock, see
// StreamWriter.Write).
func (d *deadline) isClosed() bool { return d.gone.Load() }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.t = t
	if d.ch != nil {
		close(d.ch)
		d.ch = nil
	}
}

// close wakes every wait for good.
func (d *deadline) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.gone.Store(true)
		if d.ch != nil {
			close(d.ch)
			d.ch = nil
		}
	}
}
