package tlshost

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// A guard is the transport a backend gets: the connection's transport
// behind a switch that only the host works. The host does not rely on a
// backend to stop reading a peer when it gives up on a handshake: it
// interrupts the guard, and every Read and Write in progress or to come
// fails at once, whatever the backend does with its context. Closing the
// transport would not do it: the guest's tcp-socket still holds the socket,
// so closing only drops the streams' references and a blocked read goes on
// (that froze guests on stdtls, whose crypto/tls closes the transport when
// its context is cancelled). The guard interrupts with deadlines in the
// past, which wake a blocked read or write whoever else holds the socket,
// and keeps them there: a backend cannot move them back.
type guard struct {
	net.Conn

	// readErr and writeErr, once set, are what Read and Write return.
	readErr  atomic.Pointer[error]
	writeErr atomic.Pointer[error]
	// writing counts the Writes in progress (see awaitWrites); idle,
	// while awaitWrites waits, is closed by the Write that leaves none.
	writing atomic.Int32
	idle    atomic.Pointer[chan struct{}]

	mu        sync.Mutex // serializes deadlines with interruptions
	closeOnce sync.Once
	closeErr  error
	// halfClosing is set once a deferred half-close was handed to the
	// close watch (see CloseWrite).
	halfClosing atomic.Bool

	// pauser, while a pausable handshake runs, yields its coroutine; it
	// is set and read on the coroutine only. pausing is the deadline at
	// which a read yields instead of failing (zero: none), under mu.
	pauser  func() bool
	pausing time.Time

	// meter, while the handshake runs, counts what it reads from the
	// peer against the guest's bound (see peercertbytes.go).
	meter atomic.Pointer[peerMeter]

	// readAhead counts what the backend reads ahead of the guest's
	// reads against the guest's bound (see readahead.go).
	readAhead atomic.Pointer[readAheadHold]
}

// guardedNonblocking is a guard over a wasiio.NonblockingTransport, which
// it stays.
type guardedNonblocking struct {
	*guard
	nb wasiio.NonblockingTransport
}

func (g guardedNonblocking) ReadNow(r io.Reader, p []byte) (int, error)  { return g.nb.ReadNow(r, p) }
func (g guardedNonblocking) ReadWait(r io.Reader, p []byte) (int, error) { return g.nb.ReadWait(r, p) }
func (g guardedNonblocking) Backlog() wasiio.Backlog                     { return g.nb.Backlog() }

// guarded wraps transport in a guard; transport may already be one.
func guarded(transport net.Conn) (net.Conn, *guard) {
	switch t := transport.(type) {
	case *guard:
		return t, t
	case guardedNonblocking:
		return t, t.guard
	}
	g := &guard{Conn: transport}
	if nb, ok := transport.(wasiio.NonblockingTransport); ok {
		return guardedNonblocking{g, nb}, g
	}
	return g, g
}

// An interruptedError is what the I/O of an interrupted guard returns. It
// is not a timeout: a backend must not retry.
type interruptedError struct{ reason error }

func (e *interruptedError) Error() string {
	return fmt.Sprintf("tlshost: the host closed the transport: %v", e.reason)
}

func (e *interruptedError) Unwrap() []error { return []error{e.reason, net.ErrClosed} }

// interruption returns what reads or writes interrupted for reason
// return. Closing a connection interrupts both directions of every
// transport for one of two reasons, whose errors are built once.
func interruption(reason error) *error {
	switch reason {
	case errClosed:
		return closedInterruption
	case net.ErrClosed:
		return netClosedInterruption
	}
	return newInterruption(reason)
}

var (
	closedInterruption    = newInterruption(errClosed)
	netClosedInterruption = newInterruption(net.ErrClosed)
)

func newInterruption(reason error) *error {
	var err error = &interruptedError{reason}
	return &err
}

// longAgo is a deadline that has passed.
var longAgo = time.Unix(1, 0)

func (g *guard) Read(p []byte) (int, error) {
	for {
		if e := g.readErr.Load(); e != nil {
			return 0, *e
		}
		n, err := g.Conn.Read(p)
		if n > 0 {
			if m := g.meter.Load(); m != nil {
				if merr := m.read(n); merr != nil {
					g.interruptRead(merr)
					return 0, *g.readErr.Load()
				}
			}
		}
		if err != nil {
			if e := g.readErr.Load(); e != nil {
				return n, *e
			}
			if n == 0 && g.pauser != nil && g.pauseRead(err) {
				continue
			}
		}
		return n, err
	}
}

// setPauser sets or clears the function that yields the coroutine of a
// pausable handshake. It is called on the coroutine.
func (g *guard) setPauser(f func() bool) { g.pauser = f }

// pauseAt makes a read of the pausable handshake that would wait past t
// yield its coroutine instead (zero: reads wait as long as they must). It
// is called while the coroutine is not running.
func (g *guard) pauseAt(t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pausing = t
	if g.readErr.Load() == nil {
		g.Conn.SetReadDeadline(t)
	}
}

// pauseRead handles a read that failed with err on the coroutine of a
// pausable handshake: when it failed because the pause deadline passed, it
// yields the coroutine and reports, once resumed, that the read is to be
// tried again.
func (g *guard) pauseRead(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	g.mu.Lock()
	at := g.pausing
	g.mu.Unlock()
	if at.IsZero() || time.Now().Before(at) {
		return false
	}
	return g.pauser()
}

func (g *guard) Write(p []byte) (int, error) {
	// Counted before writeErr is looked at: a Write that finds it unset
	// is seen by an awaitWrites after the interruption.
	g.writing.Add(1)
	defer g.wrote()
	if e := g.writeErr.Load(); e != nil {
		return 0, *e
	}
	if m := g.meter.Load(); m != nil && m.retry.Load() != retryNone {
		// Whether the server asked for a second ClientHello, and
		// when it is in (see peerMeter.countHello).
		m.wrote(p)
	}
	n, err := g.Conn.Write(p)
	if err != nil {
		if e := g.writeErr.Load(); e != nil {
			return n, *e
		}
	}
	return n, err
}

// awaitWrites waits, at most d, for the Writes in progress to return.
// Called once writes are interrupted, so that none starts after: a
// write to a non-blocking transport returns at once, one to another
// transport at its deadline, which the interruption put in the past.
func (g *guard) awaitWrites(d time.Duration) {
	var timeout <-chan time.Time
	for g.writing.Load() != 0 {
		p := g.idle.Load()
		if p == nil {
			ch := make(chan struct{})
			if !g.idle.CompareAndSwap(nil, &ch) {
				continue
			}
			p = &ch
		}
		// Published before the count is looked at again, as a Write
		// takes its count off before it looks for idle: of the two,
		// one sees the other.
		if g.writing.Load() == 0 {
			return
		}
		if timeout == nil {
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-*p:
		case <-timeout:
			return
		}
	}
}

// wrote ends a Write: the last in progress wakes an awaitWrites.
func (g *guard) wrote() {
	if g.writing.Add(-1) == 0 && g.idle.Load() != nil {
		if p := g.idle.Swap(nil); p != nil {
			close(*p)
		}
	}
}

// interruptRead makes reads fail with reason from now on, and wakes a read
// in progress.
func (g *guard) interruptRead(reason error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.readErr.Load() != nil {
		return
	}
	g.readErr.Store(interruption(reason))
	g.Conn.SetReadDeadline(longAgo)
}

// interrupt makes reads and writes fail with reason from now on, and wakes
// those in progress.
func (g *guard) interrupt(reason error) {
	g.interruptRead(reason)
	g.interruptWrite(reason)
}

// interruptWrite makes writes fail with reason from now on, and wakes a
// write in progress.
func (g *guard) interruptWrite(reason error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.writeErr.Load() != nil {
		return
	}
	g.writeErr.Store(interruption(reason))
	g.Conn.SetWriteDeadline(longAgo)
}

// stopMeter ends the count of the handshake's bytes, which stay held
// until releaseMeter; it returns the limit's error if the limit ended
// the handshake.
func (g *guard) stopMeter() error {
	if m := g.meter.Load(); m != nil {
		return m.stop()
	}
	return nil
}

// holdChain makes the count of the peer's bytes of conn's completed
// handshake hold at least the peer chain and stapled OCSP response conn
// reports; it returns the limit's error if that would cross it.
func (g *guard) holdChain(conn backends.Conn) error {
	if m := g.meter.Load(); m != nil {
		st := conn.State()
		return m.holdChain(st.PeerChain, len(st.OCSPResponse))
	}
	return nil
}

// CountPeerHeap implements backends.PeerHeapCounter: what the backend
// keeps parsed of the peer's chain counts with the bytes the handshake
// read, if it runs; past the limit the handshake fails with the limit's
// error.
func (g *guard) CountPeerHeap(n int64) error {
	if m := g.meter.Load(); m != nil && n > 0 {
		return m.take(int(n))
	}
	return nil
}

var _ backends.PeerHeapCounter = (*guard)(nil)

// HoldPeerBacklog implements backends.PeerBacklogCounter: what the
// backend holds of what the peer sent after the handshake, with no data
// coming of it yet, counts with the handshake's bytes until the backend
// tells 0 or the connection is released; past the limit the read fails
// with the limit's error.
func (g *guard) HoldPeerBacklog(n int64) error {
	if m := g.meter.Load(); m != nil {
		return m.holdBacklog(n)
	}
	return nil
}

var _ backends.PeerBacklogCounter = (*guard)(nil)

// releaseMeter lets go of the connection's share of the bytes its
// handshake held; chains of it the guest still holds keep theirs.
func (g *guard) releaseMeter() {
	if m := g.meter.Load(); m != nil {
		m.release()
	}
}

// interrupted reports whether reads were interrupted.
func (g *guard) interrupted() bool { return g.readErr.Load() != nil }

func (g *guard) SetDeadline(t time.Time) error {
	return errors.Join(g.SetReadDeadline(t), g.SetWriteDeadline(t))
}

func (g *guard) SetReadDeadline(t time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.readErr.Load() != nil {
		return nil // interrupted: the deadline stays in the past
	}
	return g.Conn.SetReadDeadline(t)
}

func (g *guard) SetWriteDeadline(t time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.writeErr.Load() != nil {
		return nil
	}
	return g.Conn.SetWriteDeadline(t)
}

// CloseWrite half-closes the transport, when it can, once what was written
// is out: the peer reads the end of the stream. Over a socket's transport
// the half-close is deferred (see wasiio's streamConn.CloseWriteLater):
// the guest usually drops the socket right after, whose close(2) sends the
// end of the stream, and a shutdown(2) before it would cost as much again.
// Otherwise the transport's next read (the guest waiting for the peer) or
// the close watch's next tick, at most closeGrace later, makes it, so that
// the peer sees the end while the guest holds the socket.
func (g *guard) CloseWrite() error {
	if l, ok := g.Conn.(laterCloser); ok {
		err := l.CloseWriteLater()
		if g.halfClosing.CompareAndSwap(false, true) {
			closes.later(l)
		}
		return err
	}
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("tlshost: the transport cannot close its write side alone")
}

// A laterCloser is a transport whose half-close can be deferred (see
// guard.CloseWrite).
type laterCloser interface {
	CloseWriteLater() error
	CompleteCloseWrite()
}

// Close half-closes the transport, interrupts reads and writes still in
// progress and closes it. What a write handed to the transport before is
// still delivered (see wasiio.NonblockingTransport), then the end of the
// stream: the peer sees it even while the guest's tcp-socket keeps the
// socket open, and nothing can be sent on the socket any more anyway (its
// streams belong to the transport). Close is idempotent.
func (g *guard) Close() error {
	g.closeOnce.Do(func() {
		g.CloseWrite()
		g.interrupt(net.ErrClosed)
		g.closeErr = g.Conn.Close()
	})
	return g.closeErr
}
