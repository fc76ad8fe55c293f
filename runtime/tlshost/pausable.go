package tlshost

import (
	"context"
	"time"
)

// A pausable is a deferred handshake that runs on the guest's calls even
// though the guest's waits carry a deadline: a Go guest waits with a timer
// among its pollables, so that its Go timers fire while it blocks in the
// host, and a handshake on the guest's call must then give the call back at
// that deadline without ending the handshake.
//
// It runs the backend's handshake as a coroutine (iter.Pull, a coWorker of
// the guest's, which runs its handshakes one after the other): the guest's
// waiting call resumes it and is blocked meanwhile, as for a handshake run
// on the call itself, and the switches between the two are direct, with no
// goroutine made runnable, no thread woken and no hand-off at the end. The
// handshake blocks only in its transport (the deferred handshakes of
// startLocked), so it pauses there: when a read of the guard would wait past
// the call's deadline, the guard's read yields (guard.pauseRead) and the
// call returns to the guest; the next wait of the guest resumes the read.
// The deadline is thus kept to within the backend's computation between two
// reads, not the peer's pace.
//
// A paused handshake that someone other than a lone wait of the guest looks
// at (a wait on more, a readiness check, a get) or that the host gives up
// on (the guard is interrupted: an abort, a drop, the handshake timeout, the
// end of the instance) is resumed to its end on a goroutine, without a
// pause deadline: it ends as a handshake on its goroutine would. Every
// field is guarded by the driver's mu.
type pausable struct {
	// w is the coroutine the handshake runs on; nil once it ended and
	// w went back to the guest's coroutines (releaseLocked).
	w *coWorker
	// resuming is set while a call or the goroutine runs the coroutine;
	// toEnd asks whoever resumes it to hand it to a goroutine if it
	// pauses again; ended is set once it returned.
	resuming bool
	toEnd    bool
	ended    bool
	// finishing is set once the handshake returned, before the guard
	// drops its pause deadline: no pause may be asked for after.
	finishing bool
}

// newPausableLocked gives run, which calls d.end when it returns, a
// coroutine of the guest's (d.workers). It does not start it. mu must be
// held.
func (d *driver) newPausableLocked(run func(ctx context.Context) error) *pausable {
	co := &pausable{}
	g := d.transport
	w := d.workers.get()
	w.job = func() {
		g.setPauser(w.pause)
		err := run(context.Background())
		d.mu.Lock()
		co.finishing = true
		d.mu.Unlock()
		g.setPauser(nil)
		g.pauseAt(time.Time{}) // the connection's reads have no deadline
		d.mu.Lock()
		co.ended = true
		d.mu.Unlock()
		d.end(err, false)
	}
	co.w = w
	return co
}

// releaseLocked gives the coroutine of a handshake that ended back to
// the guest's coroutines, once the resumption that saw it end returned.
// A handshake that did not end (its backend panicked through the
// coroutine, which is over then) keeps it. mu must be held.
func (d *driver) releaseLocked(co *pausable) {
	if !co.ended || co.w == nil {
		return
	}
	w := co.w
	co.w = nil
	d.workers.put(w)
}

// resumeLocked runs the paused handshake on the caller's goroutine until it
// ends, or pauses because a read would wait past deadline (zero: none). It
// reports whether it did: not while someone else resumes it. mu must be
// held; it is released and taken again.
func (d *driver) resumeLocked(ctx context.Context, deadline time.Time) bool {
	co := d.co
	if co == nil || co.resuming || co.ended {
		return false
	}
	co.resuming = true
	d.mu.Unlock()
	stop := context.AfterFunc(ctx, d.interrupt)
	d.transport.pauseAt(deadline)
	d.mu.Lock()
	if d.endAsked {
		// Asked before this resumption set its deadline.
		d.endAsked = false
		d.transport.pauseAt(longAgo)
	}
	d.mu.Unlock()
	co.w.next()
	stop()
	d.mu.Lock()
	d.endAsked = false
	co.resuming = false
	d.releaseLocked(co)
	if co.toEnd {
		d.toEndLocked()
	}
	return true
}

// endAwait makes the coroutine's resumption on a guest's call in progress
// pause at its next read that would wait (now, if one waits), or the next
// resumption pause at its first: a wait that runs the handshake on the
// guest's call beside other sources (wasiio.AwaitEnder) returns when one
// of them is ready. It does nothing to a handshake that runs to its end
// on a goroutine or has finished.
func (d *driver) endAwait() {
	d.mu.Lock()
	defer d.mu.Unlock()
	co := d.co
	if co == nil {
		// Not made yet: the first resumption of a deferred handshake
		// takes the request up.
		d.endAsked = d.deferred != nil
		return
	}
	if co.ended || co.finishing || co.toEnd {
		return
	}
	d.endAsked = true
	if co.resuming {
		d.transport.pauseAt(longAgo)
	}
}

// forgetEndAwait drops a request of endAwait that no resumption took up:
// the wait that asked is over, and the next resumption must not pause at
// once for it.
func (d *driver) forgetEndAwait() {
	d.mu.Lock()
	d.endAsked = false
	d.mu.Unlock()
}

// toEndLocked resumes the paused handshake to its end on a goroutine, now
// or, while a call resumes it, when that call returns with it paused. mu
// must be held.
func (d *driver) toEndLocked() {
	co := d.co
	if co == nil || co.ended {
		return
	}
	co.toEnd = true
	if co.resuming {
		return
	}
	co.resuming = true
	go func() {
		d.transport.pauseAt(time.Time{})
		co.w.next()
		d.mu.Lock()
		d.releaseLocked(co)
		d.mu.Unlock()
	}()
}

// stackReserve is about what a backend's handshake takes of a goroutine's
// stack (X25519MLKEM768 over crypto/tls needs more than 16 KiB): the
// coroutine's stack grows to 32 KiB at once.
const stackReserve = 24 << 10

// reserveStack grows the coroutine's stack, new and small (or shrunk by
// the collector between two handshakes), while one frame is on it. Grown
// by the handshake instead, it doubled several times deep in the backend,
// each time copying and adjusting every frame (about 1% of a client
// handshake loop's CPU samples in runtime.pcvalue, adjustframe,
// getStackMap and findfunc). On a stack that has the room it costs the
// frame's clearing.
//
//go:noinline
func reserveStack(n int) byte {
	var pad [stackReserve]byte
	pad[n%stackReserve] = byte(n)
	return pad[(n+1)%stackReserve]
}
