package wasiio

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrWouldBlock is what a non-blocking transport's Read returns when
// nothing has arrived yet (see [NonblockingTransport]). It is a net.Error
// whose Timeout and Temporary report true, the kind of error crypto/tls
// keeps its state across; test for it with errors.Is.
var ErrWouldBlock net.Error = wouldBlockError{}

type wouldBlockError struct{}

func (wouldBlockError) Error() string   { return "wasiio: read would block" }
func (wouldBlockError) Timeout() bool   { return true }
func (wouldBlockError) Temporary() bool { return true }

var errEOF = io.EOF

// MaxUnsent bounds the bytes a non-blocking transport holds for a socket
// that does not take them. Beyond it, Write blocks until the socket took
// enough, as a blocking socket would; except inside ReadNow and ReadWait,
// where blocking would stall the guest: there the TLS engine writes only
// on its own account (alerts, key updates: small records), and a peer
// that makes it send this much without reading fails the connection
// instead.
const MaxUnsent = 256 << 10

// DefaultSendLinger is how long, unless told otherwise (SocketStreamsLinger),
// a dropped socket's output stream or a closed transport keeps trying to
// deliver what it holds (close_notify included) to a peer that does not
// read: 30 seconds, after which the bytes are dropped and the socket
// closed. Until then the socket is held (and counts against the guest's
// socket limit), with up to MaxUnsent bytes.
const DefaultSendLinger = 30 * time.Second

// A sendQueue is the write side of a non-blocking transport: Write hands
// bytes straight to the socket (a non-blocking system call) and keeps what
// the socket did not take, in order, for a goroutine that writes it out
// with ordinary blocking writes. The goroutine exists only while something
// is unsent, and an idle queue holds no buffer.
//
// Writes are serialized by the caller (the transport's write lock).
type sendQueue struct {
	conn net.Conn
	raw  syscall.RawConn
	now  atomic.Bool // set inside a transport's ReadNow: Write must not block
	// reads counts a transport's ReadWaits in progress: a Write
	// meanwhile is the TLS engine's own, from within its read (a
	// KeyUpdate answer), and must not wait for room either, as inside
	// ReadNow (see mustNotWait).
	reads atomic.Int32
	// guest is set during a guest's write through an inline stream: a
	// Write short of the budget is taken past it rather than wait (see
	// mustNotWait).
	guest atomic.Bool
	// waiting counts the writes waiting for room in roomLocked, which a
	// guest's write that begins meanwhile wakes (guestWrite).
	waiting atomic.Int32
	// deferred mirrors later, for a check without the lock on every read.
	deferred atomic.Bool

	cond sync.Cond // a Write blocked over MaxUnsent waits for the flusher

	mu         sync.Mutex
	queued     []byte // unsent, not yet taken by the flusher
	inflight   int    // bytes the flusher is writing now
	err        error  // sticky: the socket failed
	deadline   time.Time
	closing    bool   // Close was called: no more writes
	shutdown   bool   // CloseWrite or closeWriteLater was called
	later      bool   // the half-close waits for completeCloseWrite
	halfClosed bool   // the socket's write side was shut down
	onDrain    func() // run once nothing is unsent after closing
	waiters    WaitList
	linger     time.Duration // how long Close waits for a peer that does not read
	// drained is onDrain once it is due, run by unlock.
	drained func()

	// The guest's budget (nil: none). charged is what the queue counts
	// against it: at least what it holds beyond UnsentFloor, and at
	// least reserved, the worst case of the guest's permit (grant).
	budget   *UnsentBudget
	charged  int64
	reserved int64
	// exempt is what the queue took past the budget, uncounted, during
	// guests' writes since it was last idle (see mustNotWait): at most
	// UnsentFloor.
	exempt int
}

func newSendQueue(conn net.Conn, raw syscall.RawConn, linger time.Duration) *sendQueue {
	q := &sendQueue{}
	q.init(conn, raw, linger)
	return q
}

// init sets up a zero sendQueue in place.
func (q *sendQueue) init(conn net.Conn, raw syscall.RawConn, linger time.Duration) {
	if linger <= 0 {
		linger = DefaultSendLinger
	}
	q.conn, q.raw, q.linger = conn, raw, linger
	q.cond.L = &q.mu
}

// idle reports that nothing is unsent; q.mu is held.
func (q *sendQueue) idle() bool { return len(q.queued) == 0 && q.inflight == 0 }

// held is what the queue holds unsent; q.mu is held.
func (q *sendQueue) held() int { return len(q.queued) + max(q.inflight, 0) }

// settleLocked returns to the budget what the queue counts beyond what
// it holds past its floor and what it reserved; q.mu is held. The count
// only falls here, by what is returned: each byte returns once.
func (q *sendQueue) settleLocked() {
	if q.budget == nil {
		return
	}
	target := max(q.reserved, int64(q.held()-UnsentFloor), 0)
	if target < q.charged {
		q.budget.put(q.charged - target)
		q.charged = target
	}
}

// grant reserves, against the budget, room for a write of up to want
// bytes by the guest, and returns how many bytes it may write: want when
// the budget has room, less (down to what the floor covers) when it is
// short. It replaces the previous reservation.
func (q *sendQueue) grant(want int) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.budget == nil || q.err != nil || q.closing {
		return want
	}
	q.reserved = 0
	q.settleLocked()
	held := q.held()
	if need := int64(held+worstUnsent(want)-UnsentFloor) - q.charged; need > 0 {
		q.charged += q.budget.take(need, false, nil)
	}
	q.reserved = q.charged
	return min(want, grantFor(UnsentFloor+int(q.charged)-held))
}

// unreserve gives back the reservation of a permit the guest spent.
func (q *sendQueue) unreserve() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reserved = 0
	q.settleLocked()
}

// guestWrite is w.Write(p) for a guest's inline stream: a Write of the
// queue's short of the budget meanwhile is taken past it rather than
// wait, which would hold the guest's call (see mustNotWait).
func (q *sendQueue) guestWrite(w io.Writer, p []byte) (int, error) {
	q.guest.Store(true)
	defer q.guest.Store(false)
	if q.waiting.Load() > 0 {
		// A write of the engine's own waits for room, holding the
		// engine's write lock, which this write needs: woken, it takes
		// the guest's write into account (roomLocked).
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	}
	return w.Write(p)
}

// Write hands p to the socket and queues what it does not take now. It
// blocks only while more than MaxUnsent bytes are unsent (see there).
// When a Close waits for p, handed to the socket directly, Write returns
// once Close's release ran (see unlock).
func (q *sendQueue) Write(p []byte) (int, error) {
	q.mu.Lock()
	defer q.unlock()
	switch {
	case q.err != nil:
		return 0, q.err
	case q.closing || q.shutdown:
		return 0, net.ErrClosed
	case !q.deadline.IsZero() && !time.Now().Before(q.deadline):
		return 0, os.ErrDeadlineExceeded
	}
	total := len(p)
	if q.idle() {
		// Nothing is ahead of p: the socket may take it directly. Only
		// this goroutine writes (the caller serializes writes and the
		// flusher is not running), so the lock can go; p counts as in
		// flight meanwhile, so that Close waits for it.
		q.inflight = len(p)
		q.mu.Unlock()
		n, err := writeNow(q.raw, p)
		q.mu.Lock()
		q.inflight = 0
		if err != nil {
			q.fail(err)
			q.drainedLocked()
			return n, err
		}
		p = p[n:]
		if len(p) == 0 {
			q.settleLocked()
			// Idle again: a wait that began while p was in flight (a
			// transport over the stream waiting to write, see
			// streamConn.Write) ends now, not at the queue's next
			// change, which may never come.
			q.waiters.WakeAll()
			q.drainedLocked()
			return total, nil
		}
	}
	if err := q.roomLocked(len(p)); err != nil {
		// The rest of a direct write refused: a Close during that write
		// left its release to this Write, and no flusher runs to do it.
		q.drainedLocked()
		return total - len(p), err
	}
	q.queued = append(q.queued, p...)
	if q.inflight == 0 {
		q.inflight = -1 // the flusher is starting
		go q.flush()
	}
	return total, nil
}

// roomLocked waits until n more bytes fit under MaxUnsent and the
// budget; q.mu is held. It does not wait inside ReadNow or ReadWait,
// nor while a guest's write is in progress (see mustNotWait).
func (q *sendQueue) roomLocked(n int) error {
	if (q.held() == 0 || q.held()+n <= MaxUnsent) && q.budgetLocked(n, false) {
		return nil
	}
	if refused, err := q.mustNotWait(n); refused {
		return err
	}
	var timer *time.Timer
	var armed time.Time // the deadline timer fires at
	q.waiting.Add(1)
	defer func() {
		q.waiting.Add(-1)
		if timer != nil {
			timer.Stop()
		}
		if q.budget != nil {
			q.budget.unblock(q)
		}
	}()
	for (q.held() > 0 && q.held()+n > MaxUnsent) || !q.budgetLocked(n, true) {
		switch {
		case q.err != nil:
			return q.err
		case q.closing || q.shutdown:
			return net.ErrClosed
		case !q.deadline.IsZero() && !time.Now().Before(q.deadline):
			return os.ErrDeadlineExceeded
		case !q.deadline.IsZero() && !q.deadline.Equal(armed):
			// A deadline moved during the wait (SetDeadline) moves
			// the timer: earlier, or later than one that fired.
			armed = q.deadline
			if timer != nil {
				timer.Reset(time.Until(armed))
				break
			}
			timer = time.AfterFunc(time.Until(armed), func() {
				q.mu.Lock()
				q.cond.Broadcast()
				q.mu.Unlock()
			})
		}
		// A guest's write that began since the last look (after waiting
		// was counted, or it woke this one: see guestWrite) waits for
		// the engine's lock this write holds.
		if refused, err := q.mustNotWait(n); refused {
			return err
		}
		q.cond.Wait()
	}
	return nil
}

// mustNotWait decides for a write of n bytes short of room that must not
// wait: it reports whether it did, and the write's error; q.mu is held.
//
// A write while a guest's write is in progress (guestWrite) is the
// engine's own, written before the guest's or instead of it while the
// guest's waits for the engine's lock (the answer to a peer's KeyUpdate,
// from a read on another goroutine; a post-handshake CertificateRequest;
// an alert), or the guest's, whose bytes fit: it writes only when nothing
// is unsent, within a permit whose reservation covers them. Which write
// this is cannot be told here: it is taken past the budget, uncounted,
// rather than fail the connection for the engine's bytes; up to one more
// floor until the queue is next idle, so that a peer asking for answers
// without reading holds no more of the host than that outside the
// budget. Beyond that, as inside ReadNow, the connection fails: waiting
// would hold the guest's call, for a peer that reads nothing. So does a
// write inside a transport's ReadWait (the guest waits on its input
// stream, and the engine's read blocks): the engine's answer from within
// the read would wait for room until the peer read, a wait the read's
// deadline does not end. A write beside that read, on another goroutine
// (a post-handshake CertificateRequest, close_notify), cannot be told
// from it and fails too: its wait would be bounded by its own deadline,
// but would end no better for a peer that reads nothing.
func (q *sendQueue) mustNotWait(n int) (bool, error) {
	guest := q.guest.Load()
	if !guest && !q.now.Load() && q.reads.Load() == 0 {
		return false, nil
	}
	if guest && q.held()+n <= MaxUnsent && q.exempt+n <= UnsentFloor {
		q.exempt += n
		return true, nil
	}
	err := fmt.Errorf("wasiio: the peer is not reading: more than %d bytes unsent", MaxUnsent)
	if q.held()+n <= MaxUnsent {
		err = fmt.Errorf("wasiio: the peer is not reading: %d bytes unsent, and the guest's connections together hold the most unsent bytes they may (%d beyond %d each)", q.held(), q.budget.limit, UnsentFloor)
	}
	q.fail(err)
	return true, err
}

// budgetLocked takes from the budget what n more bytes need beyond the
// floor and what the queue counts, and reports whether they fit; q.mu is
// held. With wait, a queue that does not fit is woken when bytes return.
func (q *sendQueue) budgetLocked(n int, wait bool) bool {
	if q.budget == nil {
		return true
	}
	need := int64(q.held()+n-UnsentFloor) - q.charged
	if need <= 0 {
		return true
	}
	var waiter *sendQueue
	if wait {
		waiter = q
	}
	if q.budget.take(need, true, waiter) == 0 {
		return false
	}
	q.charged += need
	return true
}

// fail records the socket's failure and wakes everyone; q.mu is held.
//
// A flusher blocked in the socket (the peer reads nothing) is ended by a
// write deadline in the past, which stays: nothing writes to the socket
// after the failure, and Close sets no linger over it. Its chunk returns
// to the budget as the flusher returns; left to run, it would keep the
// chunk counted against the guest's budget until the socket closed or
// the linger passed. (Bytes in flight are the flusher's: a direct write
// is over before its Write calls fail, and Writes are serialized.)
func (q *sendQueue) fail(err error) {
	if q.err == nil {
		q.err = err
		if q.inflight > 0 {
			q.conn.SetWriteDeadline(longAgo)
		}
	}
	q.queued = nil
	q.reserved = 0
	q.settleLocked()
	q.waiters.WakeAll()
	q.cond.Broadcast()
}

// flush writes the queue out with blocking writes until it is empty.
func (q *sendQueue) flush() {
	var spare []byte
	q.mu.Lock()
	for len(q.queued) > 0 && q.err == nil {
		chunk := q.queued
		q.queued, spare = spare[:0], nil
		q.inflight = len(chunk)
		q.mu.Unlock()
		_, err := q.conn.Write(chunk)
		q.mu.Lock()
		if err != nil {
			q.fail(err)
			break
		}
		spare = chunk
		q.inflight = 0
		q.settleLocked()
		q.cond.Broadcast()
	}
	q.inflight = 0
	q.queued = nil // an idle queue holds no buffer
	q.settleLocked()
	q.waiters.WakeAll()
	q.cond.Broadcast()
	q.drainedLocked()
	q.unlock()
}

// drainedLocked readies what waits for the queue to empty, for unlock to
// run; q.mu is held.
func (q *sendQueue) drainedLocked() {
	if !q.idle() {
		return
	}
	q.exempt = 0
	if q.shutdown && !q.halfClosed && !q.later {
		q.halfClosed = true
		if cw, ok := q.conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite() // best effort: close_notify already went out
		}
	}
	q.drained, q.onDrain = q.onDrain, nil
}

// unlock unlocks q.mu, then runs Close's release if the queue drained
// meanwhile. It runs on the goroutine that emptied the queue, before that
// goroutine's call returns: a Close during a Write that the socket took
// at once (the handshake's ClientHello when a guest drops the connection)
// has released the socket once that Write returned, so that its caller
// (the wasi:tls host, waiting for the Write of a dropped connection) can
// tell the guest the socket is gone. A release on a goroutine of its own
// would run a moment later, and a guest dialling again at once under its
// socket limit would be refused meanwhile.
func (q *sendQueue) unlock() {
	f := q.drained
	q.drained = nil
	q.mu.Unlock()
	if f != nil {
		f()
	}
}

// Unsent reports how many bytes the socket has not taken yet, and the
// socket's failure, if any.
func (q *sendQueue) Unsent() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queued) + max(q.inflight, 0), q.err
}

// Ready implements Source: nothing is unsent, or the socket failed.
func (q *sendQueue) Ready() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.idle() || q.err != nil
}

// Watch implements Source.
func (q *sendQueue) Watch(w *Waker) { q.waiters.Add(w) }

// Unwatch implements Source.
func (q *sendQueue) Unwatch(w *Waker) { q.waiters.Remove(w) }

// SetDeadline makes Writes fail once t has passed. It does not touch the
// socket: what was accepted before is still delivered.
func (q *sendQueue) SetDeadline(t time.Time) {
	q.mu.Lock()
	q.deadline = t
	q.cond.Broadcast()
	q.mu.Unlock()
}

// CloseWrite half-closes the socket once everything queued is out; a
// half-close deferred by closeWriteLater is done now.
func (q *sendQueue) CloseWrite() error {
	q.mu.Lock()
	defer q.unlock()
	if q.later {
		q.completeLocked()
		return nil
	}
	if q.shutdown || q.closing {
		return nil
	}
	q.shutdown = true
	q.cond.Broadcast() // a Write waiting for room fails now
	q.drainedLocked()
	return nil
}

// closeWriteLater stops accepting writes, as CloseWrite does, and defers
// the socket's half-close to completeCloseWrite, which the transport's
// next read and its owner's timer call (see streamConn.CloseWriteLater).
// When the socket is closed before, its close(2) sends the end of the
// stream and the shutdown(2) is never made.
func (q *sendQueue) closeWriteLater() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown || q.closing {
		return
	}
	q.shutdown = true
	q.later = true
	q.deferred.Store(true)
	q.cond.Broadcast() // a Write waiting for room fails now
}

// completeCloseWrite does a half-close deferred by closeWriteLater, once
// what is queued is out (at once when nothing is). It costs an atomic load
// when none is pending.
func (q *sendQueue) completeCloseWrite() {
	if !q.deferred.Load() {
		return
	}
	q.mu.Lock()
	defer q.unlock()
	q.completeLocked()
}

// completeLocked ends the deferral of the half-close; q.mu is held.
func (q *sendQueue) completeLocked() {
	if !q.later {
		return
	}
	q.later = false
	q.deferred.Store(false)
	q.drainedLocked()
}

// Close stops accepting writes and calls release once what is queued has
// been written, or has failed, or its linger passed.
func (q *sendQueue) Close(release func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return
	}
	q.closing = true
	q.reserved = 0 // no more writes: only what is held stays counted
	q.settleLocked()
	q.cond.Broadcast()
	if q.idle() {
		q.mu.Unlock()
		release()
		q.mu.Lock()
		return
	}
	q.onDrain = release
	if q.err != nil {
		// The flusher's write is being ended (see fail): a linger
		// would make it wait again.
		return
	}
	// The flusher is blocked in the socket; a deadline ends a wait for a
	// peer that never reads.
	q.conn.SetWriteDeadline(time.Now().Add(q.linger))
}
