package runtime

import (
	"cmp"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

// A closeWatch sees a guest's module instances closed by wazero rather
// than by the runtime: the wazero.Runtime's Close (which closes every
// module of the runtime, the embedder's `defer r.Close(ctx)`), or an
// api.Module's Close called by the embedder (Instance.Module). wazero
// closes the module but knows nothing of the guest's state: a guest
// blocked in a host call (a read, a connect, a sleep, poll) waited on,
// out of reach, and one computing under the stop flag ran on, while every
// socket and file it held stayed held. On such a close the watch stops
// the guest, as Instance.Close does, waits for a call into it in
// progress to return (waitIdle), and has the instance closed on a
// goroutine of its own (wazero calls the watch holding its store's lock,
// which closing a component's other modules takes).
//
// wazero calls the watch once per module instance, before it closes it.
// Closes of the runtime's own (Instance.Close, an exit of the guest)
// are marked by state.ownClose: the watch stops nothing, only waits for a
// call Instance.Close stopped from another goroutine to return (the
// wazero.Runtime's Close may come in between); wazero's closes for
// the end of a call's context (its exit codes for that, under
// WithCloseOnContextDone) are left alone: the call's context stops the
// guest, and a halted instance is classified as before; and closes made with a
// context carrying the guest (its Context, or a host call's), which are
// taken for an exit of the guest made by a host function of the
// embedder's: close from another goroutine with a context of its own.
type closeWatch struct {
	st *state

	mu     sync.Mutex
	closed bool                   // wazero closed one of the guest's modules
	onStop func()                 // set by arm: stops the guest and closes the instance
	busy   func() <-chan struct{} // set by arm: nil, or a wake for the call into the guest in progress

	gaveUp atomic.Bool // a wait for busy ran out: later closes do not wait again
	// wait bounds a wait for busy; zero means outsideCloseWait.
	wait time.Duration
}

// outsideCloseWait is how long the close of a guest's module by wazero
// waits for a call into the guest in progress, stopped, to return before
// wazero closes the module under it (and, closing the runtime, frees the
// compiled code a call still running would crash the process on). A
// stopped guest returns at once; one nothing stops (compiled without the
// stop flag, on a runtime without wazero's checks) would hold the close
// for ever.
const outsideCloseWait = time.Second

// waitIdle waits, up to outsideCloseWait (or wait, when set), for a call
// into the guest in progress (busy, as arm set it: nil when none is, else
// a channel closed when it may have returned) to return. Once a wait ran
// out, the guest's later closes (its component's other modules) do not
// wait again.
func (w *closeWatch) waitIdle() {
	w.mu.Lock()
	busy := w.busy
	w.mu.Unlock()
	if busy == nil || w.gaveUp.Load() {
		return
	}
	var deadline *time.Timer
	for {
		wake := busy()
		if wake == nil {
			break
		}
		if deadline == nil {
			deadline = time.NewTimer(cmp.Or(w.wait, outsideCloseWait))
			defer deadline.Stop()
		}
		select {
		case <-wake:
		case <-deadline.C:
			w.gaveUp.Store(true)
			return
		}
	}
}

func newCloseWatch(st *state) *closeWatch { return &closeWatch{st: st} }

// context returns ctx with the watch as its close notifier, for the
// instantiation of the guest's modules.
func (w *closeWatch) context(ctx context.Context) context.Context {
	return experimental.WithCloseNotifier(ctx, experimental.CloseNotifyFunc(w.notify))
}

func (w *closeWatch) notify(ctx context.Context, code uint32) {
	if code == sys.ExitCodeContextCanceled || code == sys.ExitCodeDeadlineExceeded {
		return
	}
	if g := GuestFrom(ctx); g != nil && g.state == w.st {
		// A close with the guest's own context: a host function of the
		// embedder's exiting the guest on its call, as wazero's
		// proc_exit does (mod.CloseWithExitCode, then a panic of the
		// *sys.ExitError), whose code is the guest's exit. Stopping
		// the guest would report the stop instead, after waiting for
		// the very call that closes.
		w.st.ownClose.Store(true)
		return
	}
	if w.st.ownClose.Load() {
		// The runtime's own close (Instance.Close, from another
		// goroutine), the guest stopped: a call it stopped may still be
		// returning, which wazero's close (the runtime's Close coming
		// in between) would clear the state of and free the code under.
		w.waitIdle()
		return
	}
	w.mu.Lock()
	first := !w.closed
	w.closed = true
	stop := w.onStop
	w.mu.Unlock()
	if !first {
		return
	}
	w.st.closedOutside.Store(true)
	// Before arm, the instantiation in progress fails or arm stops the
	// guest: the component package closes the modules of an
	// instantiation it refuses (a limit) itself, which is no stop.
	if stop != nil {
		stop()
	}
}

// arm sets what reports a call into the guest in progress (see waitIdle)
// and what a close by wazero does, once the instance is complete enough
// to be closed from another goroutine: stop the guest with ErrClosed
// (stop, nil without the stop flag), cancel its context, wait for such a
// call to return (wazero closes the module once the watch returns,
// clearing the state a wasi_snapshot_preview1 call of the guest's reads,
// see Instance.running, and, closing the runtime, freeing the compiled
// code: the stopped guest's call returns first), and close the instance
// on a goroutine of its own. If wazero closed a module before, that
// happens now.
func (w *closeWatch) arm(busy func() <-chan struct{}, stop func(reason error), cancel context.CancelFunc, close func(context.Context) error) {
	onStop := func() {
		if stop != nil {
			stop(ErrClosed)
		}
		cancel()
		w.waitIdle()
		go close(context.Background())
	}
	w.mu.Lock()
	w.busy, w.onStop = busy, onStop
	closed := w.closed
	w.mu.Unlock()
	if closed {
		onStop()
	}
}
