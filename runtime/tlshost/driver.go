package tlshost

import (
	"context"
	"errors"
	"sync"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// step is a point of interest of a handshake, in handshake order. The guest
// moves a handshake's target forward with its direct-style calls; the
// handshake goroutine runs up to the target and suspends there.
type step int

const (
	// stepSuspended: the handshake has not started; nothing was sent.
	stepSuspended step = iota
	// stepServerHello is the server's ClientHello hook (receive-client-hello).
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

// A driver runs one handshake on its own goroutine and suspends it at the
// points the guest asked to see. It is shared by client and server sessions.
//
// The guest side only moves target forward (advance) or aborts; the handshake
// side blocks in suspend while the guest has not let it pass a point. Every
// field is guarded by mu.
type driver struct {
	mu      sync.Mutex
	target  step
	aborted bool
	// changed is closed and replaced whenever target or aborted change.
	changed chan struct{}

	started bool
	ctx     context.Context
	cancel  context.CancelFunc
	// done is closed, and doneSig fired, when the handshake goroutine has
	// returned (or when it will never run).
	done    chan struct{}
	doneSig *wasiio.Signal
	// hsErr is the handshake's result, valid once done is closed.
	hsErr error
	// inHook is true while the handshake goroutine is inside a hook.
	inHook bool
}

func newDriver() *driver {
	ctx, cancel := context.WithCancel(context.Background())
	return &driver{changed: make(chan struct{}), ctx: ctx, cancel: cancel, done: make(chan struct{}), doneSig: wasiio.NewSignal()}
}

// advanceLocked moves the target to s if that is further on. mu must be held.
func (d *driver) advanceLocked(s step) {
	if s > d.target {
		d.target = s
		d.notifyLocked()
	}
}

func (d *driver) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// startLocked starts the handshake goroutine once. run is the backend's
// Handshake; after it returns, finished is called (without mu held) with its
// result before done is closed. mu must be held.
func (d *driver) startLocked(run func(ctx context.Context) error, finished func(err error)) {
	if d.started {
		return
	}
	d.started = true
	go func() {
		err := run(d.ctx)
		d.mu.Lock()
		d.hsErr = err
		d.mu.Unlock()
		finished(err)
		close(d.done)
		d.doneSig.Fire()
	}()
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
// held.
func (d *driver) neverRunLocked() {
	if !d.started {
		d.started = true
		close(d.done)
		d.doneSig.Fire()
	}
}

// abortLocked aborts the handshake and returns a signal fired once the
// backend has written its alert out (the handshake goroutine returned), or
// at once if the handshake never started. A goroutine suspended in a hook
// is released with backends.ErrAborted, so the backend sends an alert for the
// step; one busy with I/O is cancelled through its context. mu must be held.
func (d *driver) abortLocked() *wasiio.Signal {
	if !d.aborted {
		d.aborted = true
		d.notifyLocked()
		if !d.inHook {
			d.cancel()
		}
	}
	d.neverRunLocked()
	return d.doneSig
}

// stop tears the handshake down for good: it aborts it if it is still
// running and waits for the goroutine to return. Hooks select on the
// context, and backends unblock Handshake when the context is cancelled, so
// this does not hang on a silent peer.
func (d *driver) stop() {
	d.mu.Lock()
	started := d.started
	d.started = true // no goroutine may start after stop
	if !d.aborted {
		d.aborted = true
		d.notifyLocked()
	}
	d.mu.Unlock()
	d.cancel()
	if started {
		<-d.done
	}
}

// finished reports whether the handshake goroutine returned, and how.
func (d *driver) finished() (done bool, err error) {
	select {
	case <-d.done:
		d.mu.Lock()
		defer d.mu.Unlock()
		return true, d.hsErr
	default:
		return false, nil
	}
}

// errClosed is returned by calls on a session that was closed.
var errClosed = errors.New("tlshost: connection closed")
