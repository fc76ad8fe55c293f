package tlshost

import (
	"sync"

	"github.com/wasitls/wasitls/runtime/wasiio"
)

// A future is a value the handshake goroutine publishes exactly once and the
// guest reads at most once. It holds Go values only: turning them into guest
// resources (lowering) happens later, on the guest's own call path, when the
// guest calls the future's get method. The handshake goroutine never touches
// guest memory.
type future[T any] struct {
	sig wasiio.Signal // fired when resolved, for the guest's pollables and Ready
	// done is made by the first Done, closed when resolved: the host's
	// own waits use sig, so a future nobody asks Done of makes none.
	done chan struct{}
	// d, when not nil, is the driver whose handshake resolves the future
	// and may wait for the guest to wait (see driver.startLocked).
	d *driver

	// free, when not nil, lets go of a value the guest will never take:
	// the guest dropped the future's resource (abandon) before taking it.
	free func(T)

	mu        sync.Mutex
	resolved  bool
	taken     bool
	abandoned bool
	val       T
	err       error
}

func newFuture[T any]() *future[T] {
	return &future[T]{}
}

// resolve publishes the result. Only the first call has an effect; it
// reports whether it was that call.
func (f *future[T]) resolve(v T, err error) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.resolved {
		return false
	}
	f.resolved, f.val, f.err = true, v, err
	if f.done != nil {
		close(f.done)
	}
	f.sig.Fire()
	if f.abandoned {
		f.dropValueLocked()
	}
	return true
}

// abandon is the guest dropping the future's resource: a value it did
// not take goes to free, now or once it is published.
func (f *future[T]) abandon() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.abandoned = true
	if f.resolved {
		f.dropValueLocked()
	}
}

func (f *future[T]) dropValueLocked() {
	if f.taken {
		return
	}
	f.taken = true
	v := f.val
	var zero T
	f.val = zero
	if f.free != nil {
		f.free(v)
	}
}

// Done is closed once the future is resolved. Whoever asks waits: a
// deferred handshake starts on its goroutine.
func (f *future[T]) Done() <-chan struct{} {
	if f.d != nil {
		f.d.start()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		f.done = make(chan struct{})
		if f.resolved {
			close(f.done)
		}
	}
	return f.done
}

// Ready reports whether the future is resolved.
func (f *future[T]) Ready() bool { return f.sig.Fired() }

// futureState is what a get call finds, following the wasi:io convention for
// futures: option<result<result<T>>>.
type futureState int

const (
	// futurePending: not resolved yet (none).
	futurePending futureState = iota
	// futureTaken: the result was already taken by an earlier get (some(err)).
	futureTaken
	// futureReady: the result is returned now (some(ok(...))).
	futureReady
)

// take returns the result on the first call after resolution. A get
// that finds the future pending starts a deferred handshake.
func (f *future[T]) take() (v T, err error, st futureState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.resolved:
		if f.d != nil {
			// The driver's lock comes before the future's (a session
			// resolves futures with it held).
			f.mu.Unlock()
			f.d.start()
			f.mu.Lock()
		}
		return v, nil, futurePending
	case f.taken:
		return v, nil, futureTaken
	}
	f.taken = true
	v, err = f.val, f.err
	var zero T
	f.val = zero // the guest owns it now
	return v, err, futureReady
}

// peek returns the result without taking it.
func (f *future[T]) peek() (v T, err error, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.val, f.err, f.resolved
}

// source is the readiness source of the future's pollables.
func (f *future[T]) source() wasiio.Source {
	if f.d != nil {
		return pendingSource{&f.sig, f.d}
	}
	return &f.sig
}
