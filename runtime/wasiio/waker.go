package wasiio

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A Waker is the wake-up channel of one waiting call. It is created by
// [Wait] and handed to every [Source] the call watches.
type Waker struct {
	ch       chan struct{}
	deadline time.Time // earliest deadline registered, zero if none
	onWake   func()    // called by Wake first, when not nil
}

func newWaker() *Waker { return &Waker{ch: make(chan struct{}, 1)} }

// Wake wakes the waiting call. It never blocks and may be called from any
// goroutine, any number of times.
func (w *Waker) Wake() {
	if w.onWake != nil {
		w.onWake()
	}
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// WakeAt asks the waiting call to wake up no later than t. Sources call it
// from Watch; it is not safe for concurrent use.
func (w *Waker) WakeAt(t time.Time) {
	if w.deadline.IsZero() || t.Before(w.deadline) {
		w.deadline = t
	}
}

// A Source is a readiness condition a [Pollable] watches.
//
// Ready reports whether the condition holds now. Watch registers w so that
// w.Wake is called whenever the condition may have become true, and Unwatch
// removes the registration; Watch is called before the first Ready check of
// a wait, so a Source needs no further synchronization than its own lock.
// Ready, Watch and Unwatch are called on the guest's goroutine, Wake from
// anywhere.
type Source interface {
	Ready() bool
	Watch(w *Waker)
	Unwatch(w *Waker)
}

// WaitList is a set of registered wakers, the building block of a Source.
// The zero value is empty and ready to use. It is safe for concurrent use.
// A source usually has one waiter (the guest is single-threaded), so the
// set is a slice: adding and removing cost no allocation and no hashing.
// Most wakes find no waiter (a write that went out at once wakes the
// stream's waiters, if any): n, the count of wakers, lets WakeAll see that
// without the lock. A Source changes its state before it wakes, and Wait
// registers before it checks Ready, so a waiter that WakeAll does not
// count yet sees the new state.
type WaitList struct {
	mu     sync.Mutex
	wakers []*Waker
	n      atomic.Int32 // len(wakers), stored under mu
}

// Add registers w.
func (l *WaitList) Add(w *Waker) {
	l.mu.Lock()
	l.wakers = append(l.wakers, w)
	l.n.Store(int32(len(l.wakers)))
	l.mu.Unlock()
}

// Remove unregisters w. A list that has grown large (a poll naming one
// pollable a million times registers its waker as often) gives its array
// back as it empties, so that what a wait registered ends with the wait,
// not with the source.
func (l *WaitList) Remove(w *Waker) {
	l.mu.Lock()
	for i, x := range l.wakers {
		if x == w {
			last := len(l.wakers) - 1
			l.wakers[i] = l.wakers[last]
			l.wakers[last] = nil
			l.wakers = l.wakers[:last]
			if c := cap(l.wakers); c > shrinkWakers && last <= c/4 {
				l.wakers = append([]*Waker(nil), l.wakers...)
			}
			break
		}
	}
	l.n.Store(int32(len(l.wakers)))
	l.mu.Unlock()
}

// shrinkWakers is the capacity past which a WaitList shrinks as it empties.
const shrinkWakers = 64

// WakeAll wakes every registered waker.
func (l *WaitList) WakeAll() {
	if l.n.Load() == 0 {
		return
	}
	l.mu.Lock()
	for _, w := range l.wakers {
		w.Wake()
	}
	l.mu.Unlock()
}

// Len reports how many wakers are registered.
func (l *WaitList) Len() int { return int(l.n.Load()) }

// Wait blocks until at least one of sources is ready or ctx is done, and
// returns the indices of every ready source in ascending order. It returns
// immediately, without registering anything, when one is ready on entry.
// The error is ctx.Err() when the context ended the wait. Wait with no
// sources blocks until ctx is done. An [Awaiter] waits on the calling
// goroutine when it is the only source besides deadlines, and so does an
// [AwaitEnder] beside other sources when a deadline bounds the wait.
func Wait(ctx context.Context, sources []Source) ([]uint32, error) {
	if ready := readyIndices(sources); len(ready) > 0 {
		// A wait that returns at once looked at every source all the
		// same: what waits to be looked at starts now, not at the next
		// wait (a poll with an expired timer, as a guest's scheduler
		// makes before it blocks).
		startAll(sources)
		return ready, nil
	}
	sole, ender, at := awaiters(sources)
	if sole != nil {
		// One source that can wait on this goroutine, deadlines at most:
		// no hand-off between a goroutine that sees the event and this one.
		for sole.Await(ctx, at) {
			if ready := readyIndices(sources); len(ready) > 0 {
				return ready, nil
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	if ender != nil {
		if ready, err, done := awaitBeside(ctx, sources, ender, at); done {
			return ready, err
		}
	}
	return watch(ctx, sources)
}

// An AwaitEnder is an [Awaiter] whose Await another goroutine can end
// early: EndAwait makes an Await in progress return soon, or the next one
// return at once, without ending what it waits for (a read is given up,
// a handshake pauses). It may be called from any goroutine, at any time,
// and is called under a WaitList's lock (by the Waker of [Wait]'s await
// beside other sources): it must not block, nor take a lock that is held
// while a WaitList's is taken. ForgetEndAwait drops a request of EndAwait
// that no Await took up: the wait that asked is over, and the next one
// must not return at once for it.
type AwaitEnder interface {
	Awaiter
	EndAwait()
	ForgetEndAwait()
}

// besideEnder reports whether awaitBeside watches s beside the one
// AwaitEnder among its sources: s is neither an AwaitEnder nor a
// deadline.
func besideEnder(s Source) bool {
	switch s.(type) {
	case *deadline, AwaitEnder:
		return false
	}
	return true
}

// awaitBeside waits on the calling goroutine for e, as a lone Awaiter
// does, while it watches the other sources (besideEnder): their wake ends
// e's await, so that the call returns as soon as one of them is ready.
// The wait is bounded by at, the deadline among sources, as e's await is.
// It reports done false when e cannot wait this way now (the caller then
// watches every source).
func awaitBeside(ctx context.Context, sources []Source, e AwaitEnder, at time.Time) (ready []uint32, err error, done bool) {
	w := newWaker()
	w.onWake = e.EndAwait
	for _, s := range sources {
		if besideEnder(s) {
			s.Watch(w)
		}
	}
	defer func() {
		for _, s := range sources {
			if besideEnder(s) {
				s.Unwatch(w)
			}
		}
		// Nothing can ask any more; a wake that came after e's last
		// await (a second source ready, or one ready as it was watched)
		// is this wait's, not the next one's.
		e.ForgetEndAwait()
	}()
	for {
		if ready := readyIndices(sources); len(ready) > 0 {
			return ready, nil, true
		}
		if err := ctx.Err(); err != nil {
			return nil, err, true
		}
		if !e.Await(ctx, at) {
			return nil, nil, false
		}
	}
}

// waitOne is Wait on one source for a caller that only needs to know it
// is ready (pollable.block, a blocking read or write): the same waits,
// without the list of indices, so that a source ready on entry or
// waiting for itself ([Awaiter]) costs no allocation.
func waitOne(ctx context.Context, s Source) error {
	if s.Ready() {
		if st, ok := s.(Starter); ok {
			st.Start()
		}
		return nil
	}
	if a, ok := s.(Awaiter); ok {
		for a.Await(ctx, time.Time{}) {
			if s.Ready() {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	_, err := watch(ctx, []Source{s})
	return err
}

// watch is the end of Wait: it registers a waker with every source and
// sleeps until one is ready, a deadline passes or ctx ends.
func watch(ctx context.Context, sources []Source) ([]uint32, error) {
	w := newWaker()
	for _, s := range sources {
		s.Watch(w)
	}
	defer func() {
		for _, s := range sources {
			s.Unwatch(w)
		}
	}()
	var timer *time.Timer
	var timerC <-chan time.Time
	for {
		if ready := readyIndices(sources); len(ready) > 0 {
			if timer != nil {
				timer.Stop()
			}
			return ready, nil
		}
		if !w.deadline.IsZero() && timer == nil {
			timer = time.NewTimer(time.Until(w.deadline))
			timerC = timer.C
		}
		select {
		case <-w.ch:
		case <-timerC:
			timer, timerC = nil, nil
			w.deadline = time.Time{}
			// Sources re-arm their deadline on the next Watch.
			for _, s := range sources {
				if d, ok := s.(*deadline); ok {
					d.Watch(w)
				}
			}
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil, ctx.Err()
		}
	}
}

// An Awaiter is a Source that can wait for itself on the waiting
// goroutine: an inline input stream blocks in its source's Read, a
// deferred TLS handshake runs on it. [Wait] calls Await instead of
// watching when the Awaiter is the only source it waits on, deadlines
// apart. Await returns when the source may be ready, at deadline (if not
// zero), or when ctx ends; it reports false when it cannot wait that way
// now, and Wait then watches as for any source.
type Awaiter interface {
	Source
	Await(ctx context.Context, deadline time.Time) bool
}

// A Starter is a Source whose work waits until someone looks at it: Start
// starts it, and must be harmless when it runs or ran. [Wait] leaves the
// start to the source's Watch or Await, and calls Start when it returns
// at once because another source was ready; [Pollable.Ready] calls Start,
// so that a guest that only checks readiness still sees progress.
type Starter interface {
	Source
	Start()
}

// startAll starts every Starter among sources.
func startAll(sources []Source) {
	for _, s := range sources {
		if st, ok := s.(Starter); ok {
			st.Start()
		}
	}
}

// awaiters looks at sources once for the waits of [Wait] on the calling
// goroutine, and returns the earliest of the deadlines among them (zero
// if none) and
//   - sole, the one Awaiter among sources when every other source is a
//     deadline (nil otherwise);
//   - ender, the one AwaitEnder among sources beside at least one source
//     to watch (besideEnder), when a deadline bounds the wait (nil
//     otherwise).
func awaiters(sources []Source) (sole Awaiter, ender AwaitEnder, at time.Time) {
	var a Awaiter
	var e AwaitEnder
	twoAwaiters, twoEnders, watched, plain := false, false, false, false
	for _, s := range sources {
		var sa Awaiter
		switch s := s.(type) {
		case *deadline:
			if at.IsZero() || s.at.Before(at) {
				at = s.at
			}
			continue
		case AwaitEnder:
			if e != nil && e != s {
				twoEnders = true
			}
			e, sa = s, s
		case Awaiter:
			watched, sa = true, s // beside an AwaitEnder
		default:
			watched, plain = true, true
			continue
		}
		if a != nil && a != sa {
			twoAwaiters = true
		}
		a = sa
	}
	if a != nil && !twoAwaiters && !plain {
		sole = a
	}
	if e != nil && !twoEnders && watched && !at.IsZero() {
		ender = e
	}
	return sole, ender, at
}

func readyIndices(sources []Source) []uint32 {
	var ready []uint32
	for i, s := range sources {
		if s.Ready() {
			ready = append(ready, uint32(i))
		}
	}
	return ready
}

// deadline is a Source that becomes ready at a point on the monotonic clock.
type deadline struct{ at time.Time }

// NewDeadline returns a Source that is ready from t on. Waiting on it costs
// no goroutine: the waiting call sleeps until the earliest deadline.
func NewDeadline(t time.Time) Source { return &deadline{at: t} }

func (d *deadline) Ready() bool      { return !time.Now().Before(d.at) }
func (d *deadline) Watch(w *Waker)   { w.WakeAt(d.at) }
func (d *deadline) Unwatch(w *Waker) {}

// always is a Source that is always ready.
type always struct{}

// Ready is a Source that is always ready, for pollables of closed or
// finished objects.
var Ready Source = always{}

func (always) Ready() bool      { return true }
func (always) Watch(w *Waker)   {}
func (always) Unwatch(w *Waker) {}
