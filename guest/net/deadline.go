//go:build wasip1

package wasinet

import (
	"sync"
	"sync/atomic"
	"time"
)

// deadline is a settable deadline whose changes wake pending waits.
type deadline struct {
	mu     sync.Mutex
	t      time.Time
	ch     chan struct{} // closed and replaced when t changes or on close
	closed bool
	gone   atomic.Bool // closed, for isClosed without the lock
}

func newDeadline() *deadline { return &deadline{ch: make(chan struct{})} }

// get returns the deadline and the channel that is closed when it changes.
func (d *deadline) get() (time.Time, <-chan struct{}, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t, d.ch, d.closed
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
	close(d.ch)
	d.ch = make(chan struct{})
}

// close wakes every wait for good.
func (d *deadline) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.gone.Store(true)
		close(d.ch)
	}
}
