package tlshost

import (
	"errors"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// ending is what client and server sessions share about ending a
// handshake and what it leaves: finish and abort each consume it, at most
// once between them, dropping it unconsumed aborts it, and the backend
// connection it made answers State. The fields are guarded by d.mu.
type ending struct {
	d          *driver
	streamsFut *future[backends.Conn]

	consumed  bool // finish or abort was called
	closed    bool
	abortDone *wasiio.Signal
	conn      backends.Conn // once the backend made it
}

func newEnding() ending {
	return ending{d: newDriver(), streamsFut: newFuture[backends.Conn]()}
}

// finish runs the rest of the handshake; the future resolves with the
// connection when it completed. begun reports, with mu held, whether the
// handshake exists (connect or accept was called); resumeLocked is the
// session's, which starts the handshake goroutine if need be.
func (e *ending) finish(begun func() bool, resumeLocked func(step)) *future[backends.Conn] {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	if e.consumed || e.closed || !begun() {
		// The generated glue moves the handshake out of the table, so a
		// guest cannot get here; keep the session consistent anyway.
		f := newFuture[backends.Conn]()
		f.resolve(nil, errors.New("tlshost: finish: the handshake was already finished or aborted"))
		return f
	}
	e.consumed = true
	resumeLocked(stepFinish)
	return e.streamsFut
}

// abort cancels the handshake. The returned signal fires once the alert is
// out, or at once when nothing was sent yet, in which case failAll fails the
// session's futures.
func (e *ending) abort(failAll func(error)) *wasiio.Signal {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	if e.abortDone != nil {
		return e.abortDone
	}
	e.consumed = true
	started := e.d.started
	e.abortDone = e.d.abortLocked()
	if !started {
		failAll(errAbortedByGuest)
	}
	return e.abortDone
}

// dropHandshake is the guest dropping the handshake resource without
// finishing or aborting it: that is an abort.
func (e *ending) dropHandshake(failAll func(error)) {
	e.d.mu.Lock()
	consumed := e.consumed
	e.d.mu.Unlock()
	if !consumed {
		e.abort(failAll)
	}
}

// State reports what was negotiated so far; ok is false before the
// handshake started.
func (e *ending) State() (st backends.State, ok bool) {
	e.d.mu.Lock()
	conn := e.conn
	e.d.mu.Unlock()
	if conn == nil {
		return st, false
	}
	return conn.State(), true
}

// Conn returns the backend connection once the handshake succeeded.
func (e *ending) Conn() backends.Conn {
	_, err, ok := e.streamsFut.peek()
	if !ok || err != nil {
		return nil
	}
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	return e.conn
}
