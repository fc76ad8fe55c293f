package tlshost

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// ending is what client and server sessions share about ending a
// handshake and what it leaves: finish and abort each consume it, at most
// once between them, dropping it unconsumed aborts it, closing the
// connection tears everything down, and the backend connection it made
// answers State. The fields are guarded by d.mu.
type ending struct {
	d          *driver
	streamsFut *future[backends.Conn]
	// transport is what the backend reads and writes: the connection's
	// transport behind the host's guard.
	transport net.Conn
	guard     *guard
	// report records a failure the guest did not ask about yet (the
	// handshake timeout) in the connection's last error; warn logs what
	// the guest is never told. Either may be nil.
	report func(what string, err error)
	warn   func(what string, err error)
	// logPanic, if not nil, logs a panic of the backend with its stack
	// (see shield).
	logPanic func(err error, stack []byte)
	// reportBroken, if not nil, records the panic that broke the
	// connection as its reason (the connection's last error).
	reportBroken func(what string, err error)
	// broken is set once a panic of the backend broke the connection
	// (see shieldedConn).
	broken atomic.Bool

	consumed  bool // finish or abort was called
	closed    bool
	abortDone *wasiio.Signal
	conn      backends.Conn // once the backend made it, until its handshake failed
	// failed is what the guest can still read of a connection whose
	// handshake failed, once the backend's connection is let go (see
	// dropFailed).
	failed  *backends.State
	onClose func() // run by Close (a post-handshake request in flight)
	// held gives back the socket a connection over another's cleartext
	// counts as (see Host.transport), once the transport is closed; it
	// gives it back once however often it is called; nil for none.
	held func()
	// settings is what the guest's settings of the connection count
	// (settingsbytes.go), given back by Close; nil counts nothing.
	settings *settingsHold
	// counted gives back the connection the guest's count of TLS
	// connections holds for it (connections.go), at Close; nil for none.
	counted func()

	releaseOnce sync.Once
}

func newEnding(transport net.Conn) ending {
	t, g := guarded(transport)
	d := newDriver(g)
	streams := newFuture[backends.Conn]()
	streams.d = d
	return ending{d: d, streamsFut: streams, transport: t, guard: g}
}

// setHandshakeTimeout bounds the handshake, from its start, and any
// post-handshake client authentication, each by d (d <= 0: no bound).
// report, if not nil, records the expiry in the connection's last error.
// It must be called before the handshake starts.
func (e *ending) setHandshakeTimeout(d time.Duration, report func(what string, err error)) {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	e.d.timeout = max(d, 0)
	e.report = report
}

// setWorkers sets the guest's coroutines that a handshake paused at the
// guest's deadlines runs on (see pausable).
func (e *ending) setWorkers(w *coWorkers) {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	e.d.workers = w
}

// setWarn sets where failures the guest is never told are logged.
func (e *ending) setWarn(warn func(what string, err error)) {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	e.warn = warn
	e.d.warn = warn
}

// setLogPanic sets where a panic of the backend is logged, with its
// stack (see shield).
func (e *ending) setLogPanic(log func(err error, stack []byte)) {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	e.logPanic = log
}

// setReportBroken sets where the panic that breaks the connection is
// recorded as its reason. It must be called before the handshake starts.
func (e *ending) setReportBroken(report func(what string, err error)) {
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	e.reportBroken = report
}

// open makes the backend's connection with newConn, b's method op, and
// returns it shielded (see shieldedConn): from here on a panic of the
// backend breaks this connection alone (see broke). A panic of newConn is
// its error. d.mu may be held.
func (e *ending) open(b backends.Backend, op string, newConn func() (backends.Conn, error)) (conn backends.Conn, err error) {
	s := shield{backend: b.Name(), log: e.logPanic}
	func() {
		defer s.catch(op, &err)
		conn, err = newConn()
	}()
	if err != nil {
		return nil, err
	}
	return shieldConn(conn, s.backend, e, e.logPanic), nil
}

// broke is the break of the connection by p, a panic of the backend, on
// the goroutine that recovered it (d.mu may be held): the transport is
// closed at once, State reports nothing from now on, and reportBroken,
// if not nil, records p as the connection's reason. The connection is
// released (its pending handshake, its peer's bytes, its socket) as any
// failed one: by the handshake's end or by the guest's drop.
// reportBroken is set before the handshake starts (setReportBroken) and
// never changes after, so it is read without d.mu.
func (e *ending) broke(p *BackendPanicError) {
	e.broken.Store(true)
	e.guard.Close()
	if e.reportBroken != nil {
		e.reportBroken("connection", p)
	}
}

// expired is the handshake timeout: the handshake's futures fail with err
// (through the driver), the connection's last error says so at once, and
// the connection is closed as soon as the backend returned, so that the
// peer sees the end although the guest still holds the socket.
func (e *ending) expired(err error) {
	if e.report != nil {
		e.report("handshake", err)
	}
	e.d.afterEnd(func() { e.release() })
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
// handshake started. A connection a panic of the backend broke reports
// nothing, not even what was negotiated before the panic (the backend's
// state is unknown, and it is not entered again): the zero State, ok
// false; its reason is the connection's last error.
func (e *ending) State() (st backends.State, ok bool) {
	if e.broken.Load() {
		return st, false
	}
	e.d.mu.Lock()
	conn, failed := e.conn, e.failed
	e.d.mu.Unlock()
	if failed != nil {
		return *failed, true
	}
	if conn == nil {
		return st, false
	}
	return conn.State(), true
}

// dropFailed lets go of the backend's connection once its handshake
// failed, on the handshake's end: what the guest can still ask of the
// connection (version, cipher suite, ALPN, its own identity, the server
// name) is kept as a small State, and the connection and its transport
// are closed, so that the buffers the backend grew and the peer's chain
// it parsed (a hostile peer's chain can take a few hundred KiB) are the
// garbage collector's at once, not when the guest drops the handle. The
// peer's chain is not kept: a failed handshake verified no peer (the
// proposal's server-identity is "the verified certificate of the
// server"). An abandoned backend (see driver.abandon) may still run, so
// its State is not asked for.
func (e *ending) dropFailed() {
	e.d.mu.Lock()
	conn, abandoned := e.conn, e.d.abandoned
	e.d.mu.Unlock()
	if conn == nil {
		return
	}
	var st backends.State
	if !abandoned {
		full := conn.State()
		st = backends.State{
			Version:       full.Version,
			CipherSuite:   full.CipherSuite,
			Group:         full.Group,
			ALPN:          full.ALPN,
			ServerName:    full.ServerName,
			LocalIdentity: full.LocalIdentity,
		}
	}
	e.d.mu.Lock()
	e.failed = &st
	e.d.mu.Unlock()
	e.release()
	e.d.mu.Lock()
	e.conn = nil
	e.d.mu.Unlock()
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

// Close tears the connection down: it gives up on the handshake if it
// still runs and closes the backend connection once the handshake
// goroutine returned. It is idempotent, and never blocks for more than
// 2*closeGrace on the backend of an ended handshake (see release), or
// alertGrace and closeGrace on the transport of one that still runs (see
// closeTransport).
//
// The transport, and with it the socket the guest is charged for
// (runtime.Limits.Sockets: the socket's streams, or the socket a
// connection over another's cleartext counts as), is closed before Close
// returns, also when the handshake still runs: a guest that drops a
// handshake stalled on a silent peer, then its socket, may dial again at
// once under a tight socket limit. Before, the socket was closed when the
// handshake goroutine returned, a few milliseconds after it was
// interrupted, and the guest's next socket was refused meanwhile. A
// handshake given up on is interrupted (its transport fails every call),
// so closing its transport changes nothing it can see; one released from
// a hook to send the step's alert is waited for first, at most
// alertGrace, the time the driver gives it before it interrupts the
// transport anyway.
func (e *ending) Close() error {
	e.d.mu.Lock()
	if e.closed {
		e.d.mu.Unlock()
		return nil
	}
	e.closed = true
	onClose := e.onClose
	e.onClose = nil
	e.d.mu.Unlock()
	// Nothing configures the connection any more (configurableLocked
	// refuses a closed one): its settings go back to the guest's budget.
	e.settings.release()
	if e.counted != nil {
		e.counted()
	}
	if onClose != nil {
		onClose()
	}
	ended, alerting := e.d.stop()
	if ended {
		return e.release()
	}
	done := make(chan struct{})
	e.d.afterEnd(func() {
		close(done)
		e.release()
	})
	if alerting {
		t := time.NewTimer(alertGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
		}
	}
	e.closeTransport()
	return nil
}

// closeTransport closes the transport and gives back the socket it
// counts as, ahead of release, which does both again (each is
// idempotent). A write of the handshake in progress (its ClientHello,
// which the socket's output stream then delivers before it lets the
// socket go) is waited for, at most closeGrace: interrupted, it returns
// at once, and the socket's send queue, closed meanwhile (here, or by a
// backend that closes its transport when its context is cancelled, as
// crypto/tls does), has released the socket by then unless bytes are left
// unsent (see wasiio's sendQueue.unlock).
func (e *ending) closeTransport() {
	e.guard.interruptWrite(errClosed)
	e.guard.awaitWrites(closeGrace)
	e.guard.Close()
	if e.held != nil {
		e.held()
	}
}

// closeGrace bounds each of the two phases of closing a backend
// connection: sending close_notify, then, with the transport interrupted,
// returning.
const closeGrace = 250 * time.Millisecond

// release closes the backend connection, if any, and the transport, once
// (the guard half-closes it, so that the peer sees the end even while the
// guest holds the socket). The backend's Close runs on its own goroutine: past closeGrace
// (a close_notify stuck on a peer that does not read) the transport is
// interrupted, and past another closeGrace the host goes on without it.
func (e *ending) release() error {
	var err error
	e.releaseOnce.Do(func() {
		e.d.mu.Lock()
		conn := e.conn
		e.d.mu.Unlock()
		if conn != nil {
			err = closeBounded(conn, e.guard, e.transport, e.warn)
		}
		if cerr := e.guard.Close(); err == nil && conn == nil {
			err = cerr
		}
		e.guard.releaseMeter()
		e.guard.releaseReadAhead()
		if e.held != nil {
			e.held()
		}
	})
	return err
}

// closeWrite returns conn.CloseWrite bounded as release bounds Close: a
// close_notify stuck behind a write to a peer that does not read (the
// backend's CloseWrite waits for it) makes the transport's writes fail
// after closeGrace; reading goes on.
func (e *ending) closeWrite(conn backends.Conn) func() error {
	inline := blocksOnlyInTransport(conn, e.transport)
	return func() error {
		if inline {
			return boundedInline(conn.CloseWrite, (*guardWrites)(e.guard))
		}
		return bounded(conn.CloseWrite, func() { e.guard.interruptWrite(errClosed) }, e.warn, "CloseWrite")
	}
}

// closeBounded runs conn.Close for at most 2*closeGrace; see release.
// transport is the backend's transport.
func closeBounded(conn backends.Conn, g *guard, transport net.Conn, warn func(string, error)) error {
	if blocksOnlyInTransport(conn, transport) {
		return boundedInline(conn.Close, g)
	}
	return bounded(conn.Close, func() { g.interrupt(errClosed) }, warn, "Close")
}

// boundedInline runs f, a method of a backend that blocks only in its
// transport, which never blocks on the peer (see blocksOnlyInTransport),
// on the caller's goroutine: it cannot wait for a peer that does not
// read, and if it still runs after closeGrace to 2*closeGrace anyway the
// transport is interrupted, which makes f return (see closeWatch).
// Closing a connection then starts no goroutine and arms no timer of its
// own.
func boundedInline(f func() error, i interrupter) error {
	id := closes.enter(i)
	err := f()
	closes.leave(id)
	return err
}

// interruptCall makes a close in progress over g return: reads and
// writes fail from now on (see closeBounded).
func (g *guard) interruptCall() { g.interrupt(errClosed) }

// guardWrites is a guard whose close interrupts its writes alone: a
// close_notify in progress (see ending.closeWrite); reading goes on.
type guardWrites guard

func (g *guardWrites) interruptCall() { (*guard)(g).interruptWrite(errClosed) }

// bounded runs f, a backend's method, on its own goroutine, and waits for
// it at most closeGrace, then interrupts the transport and waits at most
// closeGrace more, then goes on without it.
func bounded(f func() error, interrupt func(), warn func(string, error), what string) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	interrupt()
	t.Reset(leaveBehindAfter(closeGrace))
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	err := fmt.Errorf("tlshost: the backend's %s did not return within %v; the host closed the transport and went on without it", what, closeGrace+leaveBehindAfter(closeGrace))
	if warn != nil {
		warn(what, err)
	}
	return err
}

// setOnCloseLocked makes f run when the connection is closed, instead of
// what was set before, or runs it now if it was. d.mu must be held; f runs
// without it.
func (e *ending) setOnCloseLocked(f func()) {
	if e.closed {
		go f()
		return
	}
	e.onClose = f
}

var errAbortedByGuest = errors.New("tlshost: the handshake was aborted")
