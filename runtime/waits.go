package runtime

import (
	"context"
	"sync"
	"time"
)

// waits is what ends a guest's waits in wasi_snapshot_preview1 that
// wazero makes through the module configuration, out of reach of the
// call's context (a sleep in poll_oneoff, a read of its standard input, a
// write of its standard output or error): the guest's context, which its
// instance's Close and the end of Instantiate's context end, and the
// context of the call in progress, where it differs (an export called
// through generated callers, or with a context of its own derived from
// Instance.Context). Before, only the first did: a reactor's export whose
// call's context ended mid-sleep slept on, for as long as the guest asked.
type waits struct {
	guest context.Context

	mu   sync.Mutex
	call context.Context // of the preview1 call in progress, or nil
	// poll is the timeout of the poll_oneoff in progress, as its clock
	// subscriptions ask (negative: none), while polling is set (see
	// pollTimeout).
	poll    time.Duration
	polling bool
}

// polls notes d as the timeout of the poll_oneoff in progress and
// returns the function that forgets it as the call ends.
func (w *waits) polls(d time.Duration) func() {
	w.mu.Lock()
	w.poll, w.polling = d, true
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		w.polling = false
		w.mu.Unlock()
	}
}

// pollTimeout returns the timeout noted by polls, if a poll_oneoff is in
// progress: what a wait on standard input takes instead of wazero's,
// which it hands over in milliseconds cut to an int32 (2^32+1 ms became
// 1 ms, 2^63-1 ns some 24 days).
func (w *waits) pollTimeout() (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.poll, w.polling
}

// enter notes ctx as the context of the call in progress and returns
// what it replaced, for leave. A call with the guest's own context (a
// command's _start, Instance.Call) need not enter.
func (w *waits) enter(ctx context.Context) context.Context {
	w.mu.Lock()
	prev := w.call
	w.call = ctx
	w.mu.Unlock()
	return prev
}

func (w *waits) leave(prev context.Context) {
	w.mu.Lock()
	w.call = prev
	w.mu.Unlock()
}

// callDone returns the context of the call in progress and the channel
// its end closes, or nil and a nil channel when there is none, or it is
// the guest's own.
func (w *waits) callDone() (context.Context, <-chan struct{}) {
	w.mu.Lock()
	ctx := w.call
	w.mu.Unlock()
	if ctx == nil || ctx == w.guest {
		return nil, nil
	}
	return ctx, ctx.Done()
}

// waitFunctions are the wasi_snapshot_preview1 functions in which wazero
// waits through the module configuration (see waits, guestAware).
var waitFunctions = map[string]bool{"fd_read": true, "fd_write": true, "poll_oneoff": true}
