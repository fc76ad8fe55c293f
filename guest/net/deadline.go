//go:build wasip1

package wasinet

import (
	"sync"
	"time"
)

// deadline is a settable deadline whose changes wake pending waits.
type deadline struct {
	mu     sync.Mutex
	t      time.Time
	ch     chan struct{} // closed and replaced when t changes or on close
	closed bool
}

func newDeadline() *deadline { return &deadline{ch: make(chan struct{})} }

// get returns the deadline and the channel that is closed when it changes.
func (d *deadline) get() (time.Time, <-chan struct{}, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t, d.ch, d.closed
}

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
		close(d.ch)
	}
}
