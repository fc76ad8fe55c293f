package sockets

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/wasitls/wasitls/runtime/wasiio"
)

// errSendBufferFull is what sendOne returns when the socket's send buffer
// has no room for the datagram now: send stops there and returns the count
// so far, as wasi:sockets allows.
var errSendBufferFull = errors.New("sockets: the socket's send buffer is full")

// sendReady is when a UDP socket's outgoing stream may send again, after a
// send found the socket's buffer full: check-send grants nothing and the
// stream's pollable is not ready until the socket is writable. A wait on
// the pollable watches the socket on a goroutine (on the Go runtime's
// netpoller), which ends once the socket is writable or closed, or once
// no wait watches any more: a write deadline in the past wakes it, and is
// cleared before the last watcher's Unwatch returns, so that no send
// finds it.
type sendReady struct {
	mu sync.Mutex
	// raw is the socket sends go to; deadline sets its write deadline.
	raw      syscall.RawConn
	deadline interface{ SetWriteDeadline(time.Time) error }
	full     bool          // a send found the buffer full, and it was not seen writable since
	done     chan struct{} // the watching goroutine's end, while one runs
	waiters  wasiio.WaitList
}

// init sets the socket sends go to: raw, whose write deadline deadline
// sets.
func (r *sendReady) init(raw syscall.RawConn, deadline interface{ SetWriteDeadline(time.Time) error }) {
	r.mu.Lock()
	r.raw, r.deadline = raw, deadline
	r.mu.Unlock()
}

// socket returns the socket sends go to.
func (r *sendReady) socket() syscall.RawConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.raw
}

// setFull records that a send found the buffer full.
func (r *sendReady) setFull() {
	r.mu.Lock()
	r.full = true
	r.mu.Unlock()
}

// Ready implements wasiio.Source: a send would find room (or fail).
func (r *sendReady) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full && r.raw != nil && writable(r.raw) {
		r.full = false
	}
	return !r.full
}

// Watch implements wasiio.Source.
func (r *sendReady) Watch(w *wasiio.Waker) {
	r.waiters.Add(w)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full && r.done == nil && r.raw != nil {
		r.done = make(chan struct{})
		go r.watch(r.raw, r.done)
	}
}

// watch waits until the socket is writable, closed or its write deadline
// passed (Unwatch's stop).
func (r *sendReady) watch(raw syscall.RawConn, done chan struct{}) {
	err := awaitWritable(raw)
	close(done) // before the lock, which a stop holds while it waits for it
	r.mu.Lock()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		r.full = false // writable, or closed: a send reports that
	}
	if r.done == done {
		r.done = nil
	}
	r.mu.Unlock()
	r.waiters.WakeAll()
}

// Unwatch implements wasiio.Source: the last watcher's stops the watching
// goroutine.
func (r *sendReady) Unwatch(w *wasiio.Waker) {
	r.waiters.Remove(w)
	if r.waiters.Len() > 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		return
	}
	r.deadline.SetWriteDeadline(longAgo)
	<-r.done // at once: the deadline has passed
	r.done = nil
	r.deadline.SetWriteDeadline(time.Time{})
}

// longAgo is a deadline that has passed.
var longAgo = time.Unix(1, 0)
