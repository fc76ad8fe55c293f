package tlshost

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/errtext"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// step is a point of interest of a handshake, in handshake order. The guest
// moves a handshake's target forward with its direct-style calls; the
// handshake goroutine runs up to the target and suspends there.
type step int

const (
	// stepSuspended: the handshake has not started; nothing was sent.
	stepSuspended step = iota
	// stepClientHello is the server's ClientHello hook (receive-client-hello).
	stepClientHello
	// stepVerifyServer is the client's VerifyServer hook (verify-server-identity).
	stepVerifyServer
	// stepIdentityRequest is the client's certificate request point
	// (receive-client-identity-request): ClientIdentity, or
	// NoClientIdentityRequest when the server sent no request.
	stepIdentityRequest
	// stepVerifyClient is the server's VerifyClient hook (request-client-identity).
	stepVerifyClient
	// stepFinish: run to completion (finish).
	stepFinish
)

// A driver runs one handshake on its own goroutine (or on the guest's call,
// see startLocked) and suspends it at the
// points the guest asked to see. It is shared by client and server sessions.
//
// The guest side only moves target forward (advance) or aborts; the handshake
// side blocks in suspend while the guest has not let it pass a point. Every
// field is guarded by mu.
//
// Ending a handshake never waits for the backend on the guest's call path.
// When the host gives up on a running handshake (the guest aborts or drops
// it, or the handshake timeout expires) it cancels the handshake's context
// and interrupts the transport (see guard), which ends a backend's read or
// write whatever the backend does with the context. A backend that still
// does not return within abandonGrace is left behind: the handshake ends
// for the guest anyway, with the reason, and the host logs it.
type driver struct {
	mu      sync.Mutex
	target  step
	aborted bool
	// reason is why the host ended the handshake (the handshake timeout);
	// nil when the guest aborted or dropped it.
	reason error
	// changed, when not nil, is closed whenever target or aborted
	// change; a hook that waits for that makes it (see waitUntil), so
	// that a handshake nobody suspends makes none.
	changed chan struct{}

	started bool // the handshake runs (or ran), on a goroutine or inline
	// deferred is the connection whose handshake waits for the guest to
	// wait for it, so that it runs on the guest's call (see
	// startLocked); nil once it started, and for handshakes that start at
	// once.
	deferred backends.Conn
	// co is a deferred handshake that started on a wait of the guest
	// with a deadline: it runs on the guest's waits and pauses at their
	// deadlines (see pausable).
	co *pausable
	// workers are the guest's coroutines a pausable handshake runs on;
	// nil makes one per handshake.
	workers *coWorkers
	// endAsked asks the coroutine's next resumption to pause at its
	// first read that would wait (see endAwait).
	endAsked bool
	ended    bool // the handshake is over for the host (see end)
	// abandoned: it ended without the backend, whose goroutine may still
	// run (see abandon).
	abandoned bool
	// ctx is the context of a handshake on its own goroutine, made when
	// it starts (contextLocked); cancel gives up on it. A handshake on
	// the guest's call gets none (see await).
	ctx    context.Context
	cancel context.CancelFunc
	// doneSig is fired when the handshake ended: the goroutine
	// returned, was given up on, or will never run.
	doneSig wasiio.Signal
	// hsErr is the handshake's result, valid once doneSig fired.
	hsErr error
	// inHook is true while the handshake goroutine is inside a hook.
	inHook bool

	transport *guard        // what the backend reads and writes
	timeout   time.Duration // the handshake timeout; 0: none
	// warn logs what the guest cannot be told; nil logs nothing.
	warn func(what string, err error)
	// owner is the session whose handshake this is; nil for none.
	owner driverOwner
	// backend runs the handshake; its failure names it (backendErr).
	backend  backends.Backend
	atEnd    []func()      // run once the handshake ended
	timers   []*time.Timer // stopped when it ends
	timerBuf [3]*time.Timer
	givingUp bool // the abandon timer is armed
	alerting bool // a hook was released to send the step's alert
}

// A driverOwner is the session a driver runs the handshake of. The
// driver calls it through this interface rather than through a method
// value per callback, each of which would be an allocation per
// connection.
type driverOwner interface {
	// expired is called, without mu, when the handshake timeout expired.
	expired(err error)
	// handshakeDone is called by end, without mu, with the handshake's
	// result, before doneSig fires.
	handshakeDone(err error)
	// dropFailed runs once a failed handshake ended, after everything
	// waiting for the end was told.
	dropFailed()
}

// Grace periods for a backend after the host gave up on its handshake.
// Both are far above what a backend needs to send an alert or see an
// interrupted transport, and together well under a second.
const (
	// alertGrace: a backend released from a hook with ErrAborted sends
	// its alert and returns; past alertGrace the transport is interrupted.
	alertGrace = 250 * time.Millisecond
	// abandonGrace: past it, a backend that has not returned is left
	// behind and the handshake ends without it.
	abandonGrace = 500 * time.Millisecond
)

// graceSlack lengthens, when set, the graces past which the host goes on
// without a backend that has not returned (abandonGrace, and bounded's
// wait once it interrupted the transport), for tests that check that the
// host never has to: on a loaded machine a backend that its
// interruption ends may not be scheduled within the grace, and would be
// taken for one that ignores it. Zero outside tests (export_test.go).
var graceSlack atomic.Int64

// leaveBehindAfter is grace lengthened by graceSlack.
func leaveBehindAfter(grace time.Duration) time.Duration {
	return grace + time.Duration(graceSlack.Load())
}

func newDriver(transport *guard) *driver {
	d := &driver{transport: transport}
	// The timers of one handshake (its timeout, and the alert and
	// abandon graces of giving up on it) fit without an allocation.
	d.timers = d.timerBuf[:0]
	return d
}

// contextLocked returns the handshake's context, made on first use. mu
// must be held.
func (d *driver) contextLocked() context.Context {
	if d.ctx == nil {
		d.ctx, d.cancel = context.WithCancel(context.Background())
	}
	return d.ctx
}

// advanceLocked moves the target to s if that is further on. mu must be held.
func (d *driver) advanceLocked(s step) {
	if s > d.target {
		d.target = s
		d.notifyLocked()
	}
}

func (d *driver) notifyLocked() {
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
}

// startLocked starts the handshake once: conn's, made by b. When the
// handshake ends, the owner's handshakeDone is called (without mu held)
// with its result, naming b if it failed, before doneSig fires. mu must
// be held.
//
// A handshake that runs to completion without suspending (the target is
// finish) over a backend that blocks only in its transport (inline, see
// blocksOnlyInTransport) is deferred instead: it starts when the guest waits
// for it or looks at it. When the guest waits for it alone, without a
// deadline (Await), it runs on the guest's call, as a native client's
// handshake runs on its own goroutine: no goroutine, no hand-off, no
// stack to grow. When the guest waits for it alone with a deadline (a Go
// guest's poll, whose timer lets its Go timers fire), it runs on the
// guest's waits as a coroutine that pauses at each wait's deadline (see
// pausable). Any other look (a wait on more, a readiness check, a
// get) starts the goroutine, or resumes a paused handshake on one.
// Giving up works the same on either: the
// context is cancelled and the transport interrupted, which ends the
// backend's blocking read or write.
func (d *driver) startLocked(b backends.Backend, conn backends.Conn, inline bool) {
	if d.begunLocked() {
		return
	}
	d.backend = b
	if inline && d.target == stepFinish {
		d.deferred = conn
		return
	}
	d.launchLocked(conn)
}

// begunLocked reports whether startLocked was called (or the handshake
// will never run). mu must be held.
func (d *driver) begunLocked() bool { return d.started || d.deferred != nil }

// runningLocked marks the handshake as started and starts the handshake
// timeout, if any. mu must be held.
func (d *driver) runningLocked() {
	d.started = true
	d.deferred = nil
	if d.timeout > 0 {
		d.timers = append(d.timers, time.AfterFunc(d.timeout, d.expire))
	}
}

// launchLocked runs conn's handshake on its own goroutine. mu must be
// held.
func (d *driver) launchLocked(conn backends.Conn) {
	d.runningLocked()
	ctx := d.contextLocked()
	go func() { d.end(d.handshake(ctx, conn), false) }()
}

// handshake runs conn's handshake and, once it completed, makes the
// connection's count of its peer's bytes hold at least the chain it
// reports (see guard.holdChain): a resumed handshake reads no
// certificate but keeps the session's chain for the connection's life.
func (d *driver) handshake(ctx context.Context, conn backends.Conn) error {
	err := conn.Handshake(ctx)
	if err == nil && d.transport != nil {
		err = d.transport.holdChain(conn)
	}
	return err
}

// start starts a deferred handshake on its goroutine: someone other than
// a lone wait of the guest looks at it.
func (d *driver) start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if conn := d.deferred; conn != nil {
		d.launchLocked(conn)
	}
	d.toEndLocked()
}

// await runs a deferred handshake on the caller's goroutine, the guest's
// waiting for it alone, and reports whether it did. With a deadline it
// runs it as a pausable coroutine: the guest's wait must end at the
// deadline, the handshake need not, so it pauses there and the guest's
// next lone wait resumes it (see pausable). When ctx ends (the instance
// is being closed) the transport is interrupted, so that the backend
// returns.
//
// The backend gets a context that is never done: such a handshake runs
// to completion without suspending over a backend that blocks only in
// its transport, so giving up on it (the handshake timeout, an abort, the
// end of the instance) is the guard's interruption alone, as it is for a
// handshake on its goroutine after its context was cancelled. A context
// with a Done channel would make the backend watch it (crypto/tls derives
// a context and registers a context.AfterFunc, circl-pq starts a
// goroutine) on every handshake, for nothing.
func (d *driver) await(ctx context.Context, deadline time.Time) bool {
	d.mu.Lock()
	conn := d.deferred
	switch {
	case conn == nil:
		// A paused handshake (see pausable) resumes on this call.
		ok := d.resumeLocked(ctx, deadline)
		d.mu.Unlock()
		return ok
	case !deadline.IsZero():
		d.runningLocked()
		d.co = d.newPausableLocked(func(ctx context.Context) error { return d.handshake(ctx, conn) })
		d.resumeLocked(ctx, deadline)
		d.mu.Unlock()
		return true
	}
	d.runningLocked()
	d.mu.Unlock()
	stop := context.AfterFunc(ctx, d.interrupt)
	err := d.handshake(context.Background(), conn)
	stop()
	d.end(err, false)
	return true
}

// end ends the handshake once: with the backend's result when its
// goroutine returns, or, abandoned, without it. The backend's failure
// names it once, as its other errors do (backendErr); a failure after the
// host or the guest gave up reports why it gave up, and one for crossing
// the host's bound on the peer's bytes that bound: those are the host's.
// It resolves the session's futures, fires doneSig and runs what waited
// for the end.
func (d *driver) end(err error, abandoned bool) {
	d.mu.Lock()
	if d.ended {
		d.mu.Unlock()
		return
	}
	d.ended = true
	d.abandoned = abandoned
	if err != nil && d.backend != nil {
		err = backendErr(d.backend, err)
	}
	if d.transport != nil {
		// The peer's bytes stop counting; a handshake that failed
		// because they would cross the host's bound fails for that.
		if merr := d.transport.stopMeter(); merr != nil && !d.aborted {
			err = merr
		}
	}
	if abandoned || err != nil && d.aborted {
		err = d.abortErrLocked()
	}
	err = detachErr(err)
	d.hsErr = err
	// A coroutine that ran the handshake keeps what it captured (the
	// backend's connection) for as long as it is referenced.
	if d.co != nil && d.co.ended {
		d.co = nil
	}
	timers, atEnd, owner := d.timers, d.atEnd, d.owner
	d.timers, d.atEnd = nil, nil
	d.mu.Unlock()
	for _, t := range timers {
		t.Stop()
	}
	if owner != nil {
		owner.handshakeDone(err)
	}
	d.doneSig.Fire()
	for _, f := range atEnd {
		f()
	}
	if err != nil && owner != nil {
		owner.dropFailed()
	}
}

// abortErrLocked is the error of a handshake the host or the guest gave
// up on. mu must be held.
func (d *driver) abortErrLocked() error {
	if d.reason != nil {
		return d.reason
	}
	return errAbortedByGuest
}

// afterEnd runs f once the handshake ended: now, on the caller's
// goroutine, if it has (or never started), otherwise when it ends.
func (d *driver) afterEnd(f func()) {
	d.mu.Lock()
	if d.ended || !d.started {
		d.mu.Unlock()
		f()
		return
	}
	d.atEnd = append(d.atEnd, f)
	d.mu.Unlock()
}

// suspend is called by hooks on the handshake goroutine at point p. It
// returns nil once the guest has let the handshake go past p,
// backends.ErrAborted when the guest aborted, or the context's error when the
// handshake is being torn down. locked, if not nil, runs with mu held right
// before suspend returns nil, so that the hook can read the guest's latest
// decisions atomically with its release.
func (d *driver) suspend(ctx context.Context, p step, locked func()) error {
	return d.waitUntil(ctx, func() bool {
		if d.target <= p {
			return false
		}
		if locked != nil {
			locked()
		}
		return true
	})
}

// enterHook marks the handshake goroutine as inside a hook. Hooks call it
// before they resolve the guest's future: a guest that aborts in response
// must release the hook, so that the backend sends the alert for the step,
// and not cancel the handshake's context, which would close the transport
// without an alert (and with unread data, reset it). suspend and waitUntil
// clear the mark when they return.
func (d *driver) enterHook() {
	d.mu.Lock()
	d.inHook = true
	d.mu.Unlock()
}

// leaveHook clears the mark of a hook that returns without suspending.
func (d *driver) leaveHook() {
	d.mu.Lock()
	d.inHook = false
	d.mu.Unlock()
}

// waitUntil blocks the handshake goroutine until cond (evaluated with mu
// held) is true, the guest aborted, or ctx is done.
func (d *driver) waitUntil(ctx context.Context, cond func() bool) error {
	d.mu.Lock()
	d.inHook = true
	defer func() {
		d.inHook = false
		d.mu.Unlock()
	}()
	for {
		if d.aborted {
			return backends.ErrAborted
		}
		if cond() {
			return nil
		}
		if d.changed == nil {
			d.changed = make(chan struct{})
		}
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			d.mu.Lock()
			if d.aborted {
				return backends.ErrAborted
			}
			return ctx.Err()
		}
		d.mu.Lock()
	}
}

// neverRunLocked marks a handshake that will never run as done. mu must be
// held; what waits for the end runs at once (see afterEnd).
func (d *driver) neverRunLocked() {
	d.deferred = nil
	if !d.started {
		d.started = true
		d.ended = true
		d.doneSig.Fire()
	}
}

// giveUpLocked ends a running handshake for the host: reason is why (nil
// for the guest's abort or drop). With alertFirst, a goroutine suspended
// in a hook is released with backends.ErrAborted, so that the backend sends
// the alert for the step, and the transport is interrupted only if it has
// not returned within alertGrace (a later call does not cut that short);
// otherwise the context is cancelled and the transport interrupted now. Either way, a backend that has not
// returned within abandonGrace is left behind. mu must be held.
func (d *driver) giveUpLocked(reason error, alertFirst bool) {
	if !d.aborted {
		d.aborted = true
		if d.reason == nil {
			d.reason = reason
		}
		d.notifyLocked()
	}
	if !d.started || d.ended {
		return
	}
	switch {
	case d.alerting:
		// A hook was released to send its alert: the alertGrace timer
		// interrupts the transport if that hangs.
	case alertFirst && d.inHook:
		d.alerting = true
		d.timers = append(d.timers, time.AfterFunc(alertGrace, d.interrupt))
	default:
		d.interruptLocked()
	}
	if !d.givingUp {
		d.givingUp = true
		d.timers = append(d.timers, time.AfterFunc(leaveBehindAfter(abandonGrace), d.abandon))
	}
}

// interruptLocked cancels the handshake's context and interrupts its
// transport. mu must be held.
func (d *driver) interruptLocked() {
	if d.cancel != nil {
		d.cancel()
	}
	if d.transport != nil {
		d.transport.interrupt(d.abortErrLocked())
	}
	// A paused handshake sees the interruption once resumed.
	d.toEndLocked()
}

func (d *driver) interrupt() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ended {
		d.interruptLocked()
	}
}

// abandon ends a handshake whose backend did not return after the host
// gave up on it.
func (d *driver) abandon() {
	d.mu.Lock()
	if d.ended {
		d.mu.Unlock()
		return
	}
	d.interruptLocked()
	warn := d.warn
	d.mu.Unlock()
	if warn != nil {
		warn("handshake", fmt.Errorf("the backend's handshake did not return within %v of being cancelled, with its transport closed; the host ended the handshake without it and left its goroutine behind", leaveBehindAfter(abandonGrace)))
	}
	d.end(nil, true)
}

// expire is the handshake timeout.
func (d *driver) expire() {
	d.mu.Lock()
	if d.ended || d.aborted {
		d.mu.Unlock()
		return
	}
	err := timeoutError("the handshake", d.timeout)
	d.giveUpLocked(err, true)
	owner := d.owner
	d.mu.Unlock()
	if owner != nil {
		owner.expired(err)
	}
}

// abortLocked is the guest's abort. It returns a signal fired once the
// backend has written its alert out (the handshake goroutine returned), at
// once if the handshake never started, and in any case within
// abandonGrace. A goroutine suspended in a hook is released with
// backends.ErrAborted, so the backend sends an alert for the step; one
// busy with I/O is cancelled and its transport interrupted. mu must be
// held.
func (d *driver) abortLocked() *wasiio.Signal {
	d.giveUpLocked(nil, true)
	d.neverRunLocked()
	return &d.doneSig
}

// stop is the guest dropping the connection: it gives up on the handshake
// if it still runs, as abort does (a handshake suspended in a hook sends
// the step's alert, one busy with I/O is interrupted), and reports whether
// it has ended (or never ran), and if not whether it is sending the
// step's alert (its transport is interrupted only past alertGrace). It
// does not wait for the backend.
func (d *driver) stop() (ended, alerting bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.giveUpLocked(nil, true)
	d.neverRunLocked() // no goroutine may start after stop
	return d.ended, d.alerting && !d.ended
}

// finished reports whether the handshake goroutine returned, and how.
func (d *driver) finished() (done bool, err error) {
	if !d.doneSig.Fired() {
		return false, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return true, d.hsErr
}

// ErrHandshakeTimeout is wrapped by the error of a handshake, or of a
// post-handshake client authentication, that did not complete within the
// host's handshake timeout (Config.HandshakeTimeout).
var ErrHandshakeTimeout = errors.New("tlshost: handshake timeout")

// timeoutError is the error of what did not complete within timeout.
func timeoutError(what string, timeout time.Duration) error {
	return fmt.Errorf("%w: %s did not complete within %v (the host's handshake timeout); the host closed the connection", ErrHandshakeTimeout, what, timeout)
}

// detachErr is a backend's handshake error as the host keeps it, in the
// futures and the driver, for as long as the guest holds the connection:
// its message, the host's own errors it wraps (for errors.Is), and an
// x509.UnknownAuthorityError without its certificate (for errors.As: the
// wasitls command's hint), but nothing else of it. A backend's error can
// hold what the host must not keep for a failed connection: an
// x509.UnknownAuthorityError or a tls.CertificateVerificationError holds
// the peer's parsed chain, whose bytes share the backend's buffer of the
// whole Certificate message (a hostile peer's, a few hundred KiB). The
// message is bounded too (MaxErrorText): it may quote the peer.
func detachErr(err error) error {
	if err == nil {
		return nil
	}
	var is []error
	for _, s := range []error{ErrHandshakeTimeout, ErrPeerCertBytes, errAbortedByGuest, errClosed, backends.ErrAborted, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			is = append(is, s)
		}
	}
	if errors.As(err, new(x509.UnknownAuthorityError)) {
		is = append(is, x509.UnknownAuthorityError{})
	}
	return errtext.Detach(err, is)
}

// errClosed is returned by calls on a session that was closed.
var errClosed = errors.New("tlshost: connection closed")

// inCall is err as the failure of what (a call, or a call and what of it
// failed): "tlshost: what: " and err's message, whose own "tlshost: "
// prefix, when it is one of the host's errors (errClosed, a limit's, a
// BackendPanicError, a backendError), is not repeated. errors.Is and As
// see err.
func inCall(what string, err error) error {
	return &callError{msg: "tlshost: " + what + ": " + strings.TrimPrefix(err.Error(), "tlshost: "), err: err}
}

type callError struct {
	msg string
	err error
}

func (e *callError) Error() string { return e.msg }
func (e *callError) Unwrap() error { return e.err }

// pendingSource is the readiness of a future that a handshake resolves,
// for the guest's pollables: its wait starts a deferred handshake, or
// runs it (see driver.startLocked).
type pendingSource struct {
	*wasiio.Signal
	d *driver
}

var (
	_ wasiio.AwaitEnder = pendingSource{}
	_ wasiio.Starter    = pendingSource{}
)

func (s pendingSource) Watch(w *wasiio.Waker) {
	s.d.start()
	s.Signal.Watch(w)
}

func (s pendingSource) Start() { s.d.start() }

func (s pendingSource) Await(ctx context.Context, deadline time.Time) bool {
	return s.d.await(ctx, deadline)
}

func (s pendingSource) EndAwait() { s.d.endAwait() }

func (s pendingSource) ForgetEndAwait() { s.d.forgetEndAwait() }
