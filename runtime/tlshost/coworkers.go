package tlshost

import (
	"context"
	"iter"
	"sync"
	"time"

	"github.com/wasitls/wasitls/runtime"
)

// A coWorker is a coroutine (iter.Pull) that runs pausable handshakes one
// after the other, so that a guest's next handshake finds a coroutine
// whose stack has grown and whose pages are mapped: made per handshake,
// the coroutine's fresh stack grew to the handshake's size and faulted in
// its pages every time. Its fields are the resumer's, which hands the
// coroutine from call to call (see pausable).
type coWorker struct {
	next func() (struct{}, bool)
	stop func()
	// job is the handshake the next resumption starts, set while the
	// coroutine waits between handshakes; pause yields the coroutine in
	// the middle of one (guard.pauseRead), set by the coroutine when it
	// first runs.
	job   func()
	pause func() bool
	// idleSince is when it was kept, under its coWorkers' mu.
	idleSince time.Time
}

func newCoWorker() *coWorker {
	w := &coWorker{}
	w.next, w.stop = iter.Pull(func(yield func(struct{}) bool) {
		w.pause = func() bool { return yield(struct{}{}) }
		for {
			job := w.job
			w.job = nil
			reserveStack(0)
			job()
			// Between handshakes: the resumer that sees the job
			// ended keeps the coroutine for the next or stops it,
			// which ends this loop.
			if !yield(struct{}{}) {
				return
			}
		}
	})
	return w
}

// maxIdleCoWorkers bounds the coroutines a guest keeps between its
// handshakes. A guest's waits run one handshake at a time; more are
// running when paused handshakes interleave (a server's goroutine per
// connection), each on its coroutine, counted by the pending handshakes'
// bound. What ended beyond this many is stopped. It is fixed, with
// coWorkerIdle, rather than a limit of the host's configuration: what a
// guest can make the host keep so is a constant (two stacks for a
// second), no count the guest chooses, and a knob would trade CPU for it
// rather than bound anything a guest grows (docs/security.md).
const maxIdleCoWorkers = 2

// coWorkerIdle is how long a kept coroutine waits for the guest's next
// handshake: past it, it is stopped, so that a guest that stopped making
// handshakes holds none.
const coWorkerIdle = time.Second

// A coWorkers is one guest's idle coroutines, closed with the guest
// (runtime.Guest.SetValue): its idle coroutines are stopped then, and
// those that come back after are stopped as they come.
type coWorkers struct {
	mu     sync.Mutex
	idle   []*coWorker // the longest idle first
	closed bool
	buf    [maxIdleCoWorkers]*coWorker
	// sweep stops the coroutines idle for idleFor; armed while any is
	// kept, made at the first.
	idleFor time.Duration
	sweep   *time.Timer
	armed   bool
}

// coWorkersKey is the key of a host's coWorkers in a runtime.Guest.
type coWorkersKey struct{ h *Host }

// newCoWorkers makes a guest's set, whose coroutines are stopped once
// idle for idleFor.
func newCoWorkers(idleFor time.Duration) *coWorkers {
	p := &coWorkers{idleFor: idleFor}
	p.idle = p.buf[:0]
	return p
}

// coWorkersOf returns the coroutines of the guest of a host call, nil for
// a guest NewGuest did not see (its handshakes make a coroutine each): a
// guest's set is made with it and never after, so that none outlives the
// guest's close.
func (h *Host) coWorkersOf(ctx context.Context) *coWorkers {
	if g := runtime.GuestFrom(ctx); g != nil {
		p, _ := g.Value(coWorkersKey{h}).(*coWorkers)
		return p
	}
	return nil
}

// get returns an idle coroutine, or a new one. A nil p makes a new one.
func (p *coWorkers) get() *coWorker {
	if p != nil {
		p.mu.Lock()
		if n := len(p.idle); n > 0 {
			w := p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			return w
		}
		p.mu.Unlock()
	}
	return newCoWorker()
}

// put takes back w, whose handshake ended, for the next; w is stopped
// when p is nil, closed or full.
func (p *coWorkers) put(w *coWorker) {
	if p != nil {
		p.mu.Lock()
		if !p.closed && len(p.idle) < maxIdleCoWorkers {
			w.idleSince = time.Now()
			p.idle = append(p.idle, w)
			if !p.armed {
				p.armed = true
				if p.sweep == nil {
					p.sweep = time.AfterFunc(p.idleFor, p.sweepIdle)
				} else {
					p.sweep.Reset(p.idleFor)
				}
			}
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	w.stop()
}

// sweepIdle stops the coroutines kept for idleFor or longer, and comes
// back for the others when theirs is up.
func (p *coWorkers) sweepIdle() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	now := time.Now()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleSince) >= p.idleFor {
		n++
	}
	var stale [maxIdleCoWorkers]*coWorker
	copy(stale[:], p.idle[:n])
	k := copy(p.idle, p.idle[n:])
	clear(p.idle[k:])
	p.idle = p.idle[:k]
	if k > 0 {
		p.sweep.Reset(p.idleFor - now.Sub(p.idle[0].idleSince))
	} else {
		p.armed = false
	}
	p.mu.Unlock()
	for _, w := range stale[:n] {
		w.stop()
	}
}

// Close stops the idle coroutines; those still running handshakes are
// stopped when their handshakes end.
func (p *coWorkers) Close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	if p.sweep != nil {
		p.sweep.Stop()
	}
	p.mu.Unlock()
	for _, w := range idle {
		w.stop()
	}
	return nil
}
