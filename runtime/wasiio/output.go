package wasiio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/errtext"
)

var _ streams.OutputStream = (*OutputStream)(nil)

// WriteBudget is what CheckWrite grants when no write is in flight.
const WriteBudget = 64 << 10

// An OutputStream is the wasi:io/streams output-stream resource over an
// io.Writer. See the package documentation for the model.
type OutputStream struct {
	w       io.Writer
	onClose func() error

	mu       sync.Mutex
	cond     sync.Cond // wakes the writer goroutine
	started  bool
	inflight []byte  // handed to the writer goroutine, nil when idle
	buf      *[]byte // backing store for inflight, from writeBuffers
	err      error   // what ended the stream
	dropped  bool
	waiters  WaitList

	// Inline mode (NewInlineOutputStream): writes run on the guest's calls.
	backlog Backlog
	// permit is what the last CheckWrite granted, less what was written
	// since. In inline mode the writer may leave bytes of its own unsent
	// after a CheckWrite (see writeLocked), which must not take the
	// guest's permit away.
	permit uint64
	// gathered holds, inline over a socket's send queue (budgeted), the
	// guest's writes within its permit made while the queue held bytes
	// unsent: they are written to the writer as one once the queue is
	// empty (pushLocked), on the guest's next call on the stream or when
	// drain sees it empty (or at once, when it emptied before drain
	// watched it). Written at once, each write would be a TLS
	// record of its own, whose expansion (22 bytes and more) the permit's
	// reservation does not cover: a guest writing a byte at a time filled
	// the queue past its floor and the budget, or MaxUnsent, and the
	// connection failed. The reservation stands while bytes are gathered.
	gathered []byte
	gbuf     *[]byte // gathered's backing store, from writeBuffers
	drain    *Waker  // registered with the backlog while bytes are gathered

	// A socket's goroutine stream (SocketStreamsLinger where sockets
	// cannot be non-blocking): a write in flight when the stream is
	// dropped has linger to complete, after which conn's write deadline
	// fails it; closeWrite runs once it is over (lingering).
	conn      interface{ SetWriteDeadline(time.Time) error }
	linger    time.Duration
	lingering bool
}

// A Backlog is what a writer that never blocks has accepted but not
// delivered yet (a non-blocking transport's unsent bytes). As a Source it
// is ready when nothing is unsent, or delivery failed.
type Backlog interface {
	Source
	Unsent() (int, error)
}

// budgeted is a backlog under a guest's UnsentBudget (a socket's send
// queue): the stream's permits reserve their room there (grant), give it
// back once spent (unreserve), and its writes do not wait for the budget
// (guestWrite).
type budgeted interface {
	grant(want int) int
	unreserve()
	guestWrite(w io.Writer, p []byte) (int, error)
}

// NewInlineOutputStream returns an output stream that writes on the
// guest's own calls: Write calls w.Write at once, which must not block as
// long as backlog has nothing unsent (a TLS connection over a non-blocking
// transport: it encrypts, and the transport hands the record to the
// socket or queues it). CheckWrite grants a budget, and a flush is
// complete, when nothing is unsent: the stream buffers nothing itself, so
// an unsent backlog is the only thing a flush waits for. Dropping the
// stream calls closeWrite.
func NewInlineOutputStream(w io.Writer, backlog Backlog, closeWrite func() error) *OutputStream {
	s := NewOutputStream(w, closeWrite)
	s.backlog = backlog
	return s
}

// busy reports that a write is not accepted now; s.mu is held. In inline
// mode a backlog that failed becomes the stream's error.
func (s *OutputStream) busy() bool {
	if s.backlog == nil {
		return s.inflight != nil
	}
	n, err := s.backlog.Unsent()
	if err != nil && s.err == nil {
		s.err = errtext.Bound(err)
	}
	return n > 0
}

// NewOutputStream returns an output stream writing to w. Dropping the
// stream calls closeWrite (if not nil): a socket releases its connection, a
// TLS stream sends close_notify. A write still in flight at that moment may
// be lost, as WASI allows; guests flush before they drop.
func NewOutputStream(w io.Writer, closeWrite func() error) *OutputStream {
	s := &OutputStream{}
	s.init(w, closeWrite)
	return s
}

// init sets up a zero OutputStream in place.
func (s *OutputStream) init(w io.Writer, closeWrite func() error) {
	s.w, s.onClose = w, closeWrite
	s.cond.L = &s.mu
}

func (s *OutputStream) run() {
	s.mu.Lock()
	for {
		for s.inflight == nil && !s.dropped {
			s.cond.Wait()
		}
		if s.inflight == nil {
			s.mu.Unlock()
			return
		}
		b := s.inflight
		s.mu.Unlock()
		_, err := s.w.Write(b)
		s.mu.Lock()
		s.inflight = nil
		// An idle stream holds no buffer: thousands of idle connections
		// would otherwise pin WriteBudget bytes each.
		writeBuffers.Put(s.buf)
		s.buf = nil
		if err != nil && s.err == nil {
			s.err = errtext.Bound(err)
		}
		s.waiters.WakeAll()
		if s.lingering {
			// Dropped with this write in flight: it is over now.
			s.lingering = false
			s.mu.Unlock()
			if s.onClose != nil {
				s.onClose()
			}
			return
		}
		if s.err != nil {
			s.mu.Unlock()
			return
		}
	}
}

// terminal reports why the stream ended; s.mu is held.
func (s *OutputStream) terminal() error {
	if s.dropped {
		return Closed()
	}
	if s.err == nil {
		return nil
	}
	se, failed := report(s.err)
	if failed {
		s.err = errClosed
	}
	return se
}

// budgetTrap traps the guest for a write beyond the check-write budget, as
// wasi:io/streams prescribes.
func budgetTrap(fn string, n uint64) {
	panic(&cabi.Trap{Func: "wasi:io/streams#[method]output-stream." + fn,
		Msg: fmt.Sprintf("write of %d bytes exceeds the check-write budget", n)})
}

// CheckWrite implements streams.OutputStream: WriteBudget when idle, zero
// while a write is in flight. A socket's stream under a guest's
// UnsentBudget grants less, down to what its floor covers, when the
// budget is short.
func (s *OutputStream) CheckWrite(ctx context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushLocked(false)
	// Bytes still gathered count as unsent even when the queue emptied
	// since pushLocked looked: a permit granted now would let the guest
	// gather past what the first permit reserved (and past the buffer).
	busy := s.busy() || s.gathered != nil
	if err := s.terminal(); err != nil {
		return 0, err
	}
	if busy {
		s.setPermit(0)
		return 0, nil
	}
	s.permit = s.grant(WriteBudget)
	return s.permit, nil
}

// grant is what the stream's backlog grants of a write of want bytes
// (want for a stream under no budget); s.mu is held.
func (s *OutputStream) grant(want int) uint64 {
	if b, ok := s.backlog.(budgeted); ok {
		return uint64(b.grant(want))
	}
	return uint64(want)
}

// setPermit sets the permit, giving back the reservation of a permit
// that becomes zero; s.mu is held.
func (s *OutputStream) setPermit(n uint64) {
	old := s.permit
	s.permit = n
	if n == 0 && old > 0 && s.gathered == nil {
		if b, ok := s.backlog.(budgeted); ok {
			b.unreserve()
		}
	}
}

// Write implements streams.OutputStream: it hands a copy of p to the
// writer goroutine without blocking. Contents beyond the budget CheckWrite
// granted trap the guest.
func (s *OutputStream) Write(ctx context.Context, p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeLocked(p, false); err == errBudget {
		budgetTrap("write", uint64(len(p)))
	} else if err != nil {
		return err
	}
	return nil
}

var errBudget = errors.New("over budget")

// recordSlack is what a writer may add to WriteBudget bytes as it writes
// them to its backlog: TLS records' headers and tags (at most 256 bytes a
// record of 16 KiB in TLS 1.3, 2,048 in TLS 1.2).
const recordSlack = 16 << 10

// writeBuffers holds the WriteBudget-sized copies of writes in flight. A
// buffer returns to the pool when its write completed.
var writeBuffers = sync.Pool{New: func() any { b := make([]byte, WriteBudget); return &b }}

func (s *OutputStream) writeLocked(p []byte, zeroes bool) error {
	if err := s.terminal(); err != nil {
		return err
	}
	if len(p) == 0 {
		return nil
	}
	if len(p) > WriteBudget {
		if err := s.terminal(); err != nil {
			return err
		}
		return errBudget
	}
	s.pushLocked(false)
	busy := s.busy()
	bq, budget := s.backlog.(budgeted)
	if budget && (busy || s.gathered != nil) {
		if err := s.terminal(); err != nil {
			return err
		}
		if uint64(len(p)) > s.permit {
			return errBudget
		}
		// Within the permit, behind bytes unsent (the guest's, or the
		// writer's own: a TLS engine's answer to the peer's KeyUpdate
		// while the guest read, an alert): gathered, without waiting for
		// a peer that does not read, and written once the queue is
		// empty.
		s.gather(p, zeroes)
		s.permit -= uint64(len(p))
		// The queue may have emptied since busy looked and before drain
		// watched it: its last wake found nobody then, and none comes.
		s.pushLocked(false)
		return s.terminal()
	}
	if busy {
		if err := s.terminal(); err != nil {
			return err
		}
		if s.backlog == nil || uint64(len(p)) > s.permit {
			return errBudget
		}
		// Inline over a backlog other than a send queue (which gathers
		// instead, above), the writer's own bytes since CheckWrite are
		// unsent (a TLS engine's answer to the peer's KeyUpdate while
		// the guest read, an alert): the guest's permit stands, as long
		// as the writer takes p without waiting for a peer that does not
		// read (roomLocked), which would hold the guest's call.
		// Otherwise the stream fails, as the transport's own writes in
		// ReadNow do.
		if n, _ := s.backlog.Unsent(); n+len(p)+recordSlack > MaxUnsent {
			s.err = fmt.Errorf("wasiio: the peer is not reading: %d bytes unsent and %d more to write", n, len(p))
			return s.terminal()
		}
	}
	if budget && !busy && uint64(len(p)) > s.permit {
		// A write with no permit that covers it (a blocking write, or a
		// guest that skipped check-write): as check-write would.
		s.permit = s.grant(len(p))
		if uint64(len(p)) > s.permit {
			return errBudget
		}
	}
	left := s.permit - min(s.permit, uint64(len(p)))
	if s.backlog != nil {
		// zeroes or not, p is the caller's or the shared zero array: the
		// writer encrypts or copies it before returning.
		var err error
		if budget {
			// The reservation stands until the write is queued.
			_, err = bq.guestWrite(s.w, p)
		} else {
			_, err = s.w.Write(p)
		}
		s.setPermit(left)
		if err != nil && s.err == nil {
			s.err = errtext.Bound(err)
		}
		return s.terminal()
	}
	s.permit = left
	s.buf = writeBuffers.Get().(*[]byte)
	b := (*s.buf)[:len(p)]
	if zeroes {
		clear(b)
	} else {
		copy(b, p)
	}
	s.inflight = b
	if !s.started {
		s.started = true
		go s.run()
	} else {
		s.cond.Signal()
	}
	return nil
}

// gather adds p (or len(p) zero bytes) to the bytes gathered, and makes
// drain watch the backlog if it does not yet; s.mu is held.
func (s *OutputStream) gather(p []byte, zeroes bool) {
	if s.gathered == nil {
		s.gbuf = writeBuffers.Get().(*[]byte)
		s.gathered = (*s.gbuf)[:0]
		if s.drain == nil {
			s.drain = newWaker()
			s.drain.onWake = func() { go s.pushDrained() }
		}
		s.backlog.Watch(s.drain)
	}
	k := len(s.gathered)
	s.gathered = s.gathered[:k+len(p)] // within the permit: at most WriteBudget
	if zeroes {
		clear(s.gathered[k:])
	} else {
		copy(s.gathered[k:], p)
	}
}

// pushLocked writes the gathered bytes as one write, when the backlog has
// nothing unsent (or, with force, at once: the stream is being dropped);
// s.mu is held. Their reservation is given back once they are queued and
// the permit is spent. A forced write the backlog has no room for
// (MaxUnsent) is dropped, as a write in flight at a drop may be: queued,
// it would wait for the peer on the guest's call.
func (s *OutputStream) pushLocked(force bool) {
	if s.gathered == nil || !force && s.err == nil && s.busy() {
		return
	}
	p := s.gathered
	s.gathered = nil
	s.backlog.Unwatch(s.drain)
	bq := s.backlog.(budgeted)
	if n, _ := s.backlog.Unsent(); force && n+len(p)+recordSlack > MaxUnsent && s.err == nil {
		s.err = fmt.Errorf("wasiio: the peer is not reading: %d bytes unsent and %d more gathered when the stream was dropped", n, len(p))
	}
	if s.err == nil {
		if _, err := bq.guestWrite(s.w, p); err != nil && s.err == nil {
			s.err = errtext.Bound(err)
		}
	}
	writeBuffers.Put(s.gbuf)
	s.gbuf = nil
	if s.permit == 0 {
		bq.unreserve()
	}
}

// pushDrained is drain's wake (the backlog emptied or failed): the
// gathered bytes go out even when the guest makes no call.
func (s *OutputStream) pushDrained() {
	s.mu.Lock()
	s.pushLocked(false)
	s.mu.Unlock()
	s.waiters.WakeAll()
}

// zeroes is a shared source of zero bytes for WriteZeroes.
var zeroes [WriteBudget]byte

// WriteZeroes implements streams.OutputStream: Write of n zero bytes.
func (s *OutputStream) WriteZeroes(ctx context.Context, n uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > WriteBudget {
		if err := s.terminal(); err != nil {
			return err
		}
		budgetTrap("write-zeroes", n)
	}
	if err := s.writeLocked(zeroes[:n], true); err == errBudget {
		budgetTrap("write-zeroes", n)
	} else if err != nil {
		return err
	}
	return nil
}

// Flush implements streams.OutputStream. Writes are handed to the writer
// goroutine as they come, so there is nothing more to start: the flush is
// complete when CheckWrite grants a budget again.
func (s *OutputStream) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushLocked(false)
	return s.terminal()
}

// BlockingFlush implements streams.OutputStream: it waits until every
// write completed and reports the stream's state. When ctx ends first (the
// instance is being closed), the guest exits.
func (s *OutputStream) BlockingFlush(ctx context.Context) error {
	if err := waitOne(ctx, s); err != nil {
		Abort(ctx, err)
	}
	return s.Flush(ctx)
}

// BlockingWriteAndFlush implements streams.OutputStream. Contents larger
// than WriteBudget (WASI's limit is 4096) are accepted and written in
// several steps.
func (s *OutputStream) BlockingWriteAndFlush(ctx context.Context, p []byte) error {
	return s.blockingWrite(ctx, p, uint64(len(p)), false)
}

// BlockingWriteZeroesAndFlush implements streams.OutputStream.
func (s *OutputStream) BlockingWriteZeroesAndFlush(ctx context.Context, n uint64) error {
	return s.blockingWrite(ctx, nil, n, true)
}

func (s *OutputStream) blockingWrite(ctx context.Context, p []byte, n uint64, zero bool) error {
	for {
		if err := s.BlockingFlush(ctx); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		k := min(n, WriteBudget)
		s.mu.Lock()
		if _, ok := s.backlog.(budgeted); ok && !s.busy() {
			// What the budget grants, at least what the floor covers.
			s.permit = s.grant(int(k))
			k = min(k, s.permit)
		}
		var err error
		if zero {
			err = s.writeLocked(zeroes[:k], true)
		} else {
			err = s.writeLocked(p[:k], false)
			p = p[k:]
		}
		s.mu.Unlock()
		if err == errBudget {
			continue // raced with nothing: only this goroutine writes
		}
		if err != nil {
			return err
		}
		n -= k
	}
}

// Splice implements streams.OutputStream: it moves up to n bytes that src
// has buffered into the stream without blocking, within the write budget,
// and returns how many moved. Errors of either stream are reported as they
// are.
func (s *OutputStream) Splice(ctx context.Context, src streams.InputStream, n uint64) (uint64, error) {
	moved, _, err := s.splice(ctx, src, n)
	return moved, err
}

// splice is Splice; full reports that the stream granted no budget, so
// that nothing was read.
func (s *OutputStream) splice(ctx context.Context, src streams.InputStream, n uint64) (moved uint64, full bool, err error) {
	budget, err := s.CheckWrite(ctx)
	if err != nil {
		return 0, false, err
	}
	// With no budget, a read of zero bytes still reports src's end.
	data, err := src.Read(ctx, min(n, budget))
	if err != nil {
		return 0, false, err
	}
	if err := s.Write(ctx, data); err != nil {
		return 0, false, err
	}
	return uint64(len(data)), budget == 0, nil
}

// BlockingSplice implements streams.OutputStream: Splice that first waits
// until the stream accepts a write and src has bytes or ended. When the
// stream stopped accepting writes after that wait (a TLS engine's own
// bytes, written while src was read, are unsent), it waits again rather
// than return zero: WASI's blocking-splice moves at least one byte, or
// fails. Every wait ends with ctx, as the guest then exits.
func (s *OutputStream) BlockingSplice(ctx context.Context, src streams.InputStream, n uint64) (uint64, error) {
	for {
		if n > 0 {
			if err := s.BlockingFlush(ctx); err != nil {
				return 0, err
			}
			if sp, ok := src.(Source); ok {
				if err := waitOne(ctx, sp); err != nil {
					Abort(ctx, err)
				}
			} else {
				src.Subscribe(ctx).Block(ctx)
			}
		}
		moved, full, err := s.splice(ctx, src, n)
		if !full || n == 0 {
			return moved, err
		}
		if err := ctx.Err(); err != nil {
			Abort(ctx, err)
		}
	}
}

// Ready implements Source: a write would be accepted, or the stream ended.
func (s *OutputStream) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushLocked(false)
	return !s.busy() && s.gathered == nil || s.err != nil || s.dropped
}

// Watch implements Source.
func (s *OutputStream) Watch(w *Waker) {
	s.waiters.Add(w)
	if s.backlog != nil {
		s.backlog.Watch(w)
	}
}

// Unwatch implements Source.
func (s *OutputStream) Unwatch(w *Waker) {
	s.waiters.Remove(w)
	if s.backlog != nil {
		s.backlog.Unwatch(w)
	}
}

// Subscribe implements streams.OutputStream: a pollable, child of the
// stream, that is ready when CheckWrite would grant a budget or report an
// error.
func (s *OutputStream) Subscribe(ctx context.Context) poll.Pollable { return NewPollable(s, s) }

// Drop implements cabi.Resource: it closes the stream.
func (s *OutputStream) Drop() { s.Close() }

// waitIdle waits until no write is in flight, without a context: it is
// used where the stream is no longer the guest's and dropping it unblocks.
func (s *OutputStream) waitIdle() error {
	waitOne(context.Background(), s)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terminal()
}

// Close drops the stream: it stops the writer goroutine (a write in flight
// completes or fails on its own) and calls the closeWrite function given to
// NewOutputStream. A socket's goroutine stream (SocketStreamsLinger) gives
// a write in flight its linger to complete, and calls closeWrite once it
// is over. Close is idempotent.
func (s *OutputStream) Close() error {
	s.mu.Lock()
	if s.dropped {
		s.mu.Unlock()
		return nil
	}
	// Gathered bytes go before what closeWrite sends (close_notify),
	// behind what is unsent.
	s.pushLocked(true)
	// The permit's reservation goes back now: the backlog may outlive the
	// stream (a TLS connection's transport, for its input stream).
	s.setPermit(0)
	s.dropped = true
	s.cond.Broadcast()
	linger := s.inflight != nil && s.conn != nil
	if linger {
		// The writer goroutine calls closeWrite once its write is
		// delivered, failed, or given up at the deadline.
		s.lingering = true
		s.conn.SetWriteDeadline(time.Now().Add(s.linger))
	}
	s.mu.Unlock()
	s.waiters.WakeAll()
	if !linger && s.onClose != nil {
		return s.onClose()
	}
	return nil
}
