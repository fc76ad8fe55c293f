package wasiio

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/internal/errtext"
)

// An InlineSource is what an inline input stream reads: the same bytes
// through a blocking Read and a ReadNow that never blocks. The stream
// never calls the two at the same time.
type InlineSource interface {
	// Read reads as io.Reader does, blocking until bytes arrive; once
	// the read deadline passed it fails with a net.Error whose Timeout
	// reports true, and a later Read continues where it stopped.
	Read(p []byte) (int, error)
	// ReadNow returns what is available without blocking, or
	// ErrWouldBlock.
	ReadNow(p []byte) (int, error)
	// SetReadDeadline bounds Read (zero: no bound).
	SetReadDeadline(t time.Time) error
}

// An InlineInputStream is the wasi:io/streams input-stream resource over
// an InlineSource, read on the guest's own calls: Read calls the source's
// ReadNow, so that no goroutine hand-off stands between the guest and its
// bytes. When the guest waits on the stream alone (with deadlines at
// most), or beside sources that are not awaited on the call (with a
// deadline; their wake ends the read: EndAwait), the waiting call itself
// blocks in the source's Read (Await); when it waits on more, a goroutine
// makes one blocking Read. Either way the bytes read are what the next
// Read returns.
//
// pending holds only what such a blocking read got; the rest stays in
// the source.
type InlineInputStream struct {
	inputState
	src InlineSource

	paused  bool    // reads stay off the guest's calls (see PauseInline)
	busy    bool    // a blocking read (Await or one-shot) is in flight
	scratch *[]byte // the buffer of the last inline read, lent until the next call
	// wake is the pooled buffer of the last blocking read, which pending
	// points into; once pending is drained it is lent until the next call.
	wake *[]byte

	// Ending Await's read early. awaitGen counts the starts and ends of
	// Await's reads: it is odd while one is in flight. endAsked is
	// EndAwait's request that the read in flight, or the next Await, end
	// early. dmu orders the stream's calls of src.SetReadDeadline while
	// Await reads (setting the read's deadline, ending it early, clearing
	// it): it is taken with no other lock held, and nothing under it
	// takes another lock of the stream. The source's SetReadDeadline may
	// take a WaitList's lock under it (a transport over streams wakes its
	// reader's wait), whose Wakers may call EndAwait: EndAwait takes no
	// lock at all, and leaves the deadline to a goroutine (endRead).
	dmu      sync.Mutex
	awaitGen atomic.Uint64
	endAsked atomic.Bool

	// Ending a blocking read when the stream is dropped (a socket's
	// stream, or EndReadOnDrop's: endOnDrop). The stream moves the
	// source's read deadline then: Close sets it in the past if a
	// blocking read is in flight (onceReading, or Await's, awaitGen odd;
	// under dmu), and the read, once it returned, clears it. stopRead
	// tells a read that starts after Close to end at once.
	endOnDrop   bool
	onceReading bool // readOnce's read is in flight; under dmu
	stopRead    atomic.Bool
}

// NewInlineInputStream returns an input stream that reads src on the
// guest's own calls. Dropping the stream calls closer.Close (if closer is
// not nil), which must make a blocking src.Read return.
func NewInlineInputStream(src InlineSource, closer io.Closer) *InlineInputStream {
	s := &InlineInputStream{}
	s.init(src, closer)
	return s
}

// init sets up a zero InlineInputStream in place.
func (s *InlineInputStream) init(src InlineSource, closer io.Closer) {
	s.closer, s.src = closer, src
}

// EndReadOnDrop makes Close end a blocking read in flight, as a socket's
// stream does (SocketStreams): a read deadline in the past, which the
// read clears once it returned. It is for a source that lives on after
// the stream's drop (a TLS connection, whose output stream and
// post-handshake reads go on) and whose Read, ended by its deadline,
// loses nothing: a later Read continues where it stopped, as Await's
// deadlines need anyway. Call it before the stream is used.
func (s *InlineInputStream) EndReadOnDrop() { s.endOnDrop = true }

func (s *InlineInputStream) reader() io.Reader { return s.src }

func (s *InlineInputStream) untouched() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.busy && len(s.pending) == 0 && !s.dropped
}

// PauseInline stops reading on the guest's calls, once the read in
// progress (if any) returned: from now on the stream reads only on a
// goroutine, when the guest waits. The wasi:tls host pauses a connection
// whose backend must read the transport itself (post-handshake
// authentication), since the non-blocking mode of a transport is the
// transport's, not a caller's.
func (s *InlineInputStream) PauseInline() {
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
}

// Inline buffers: most reads ask for a little or for a lot.
var (
	smallReads = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}
	largeReads = sync.Pool{New: func() any { b := make([]byte, ReadChunk); return &b }}
)

// readInline reads up to n bytes on the caller's goroutine; s.mu is held.
// The result is lent until the next call on the stream.
func (s *InlineInputStream) readInline(n uint64) ([]byte, error) {
	pool := &largeReads
	if n <= 4<<10 {
		pool = &smallReads
	}
	buf := pool.Get().(*[]byte)
	b := (*buf)[:min(n, uint64(len(*buf)))]
	// What a wake-up read left pending comes first (Read calls here
	// with less pending than asked for).
	k := copy(b, s.pending)
	s.consume(k)
	// Fill what the guest asked for while the source has bytes at hand
	// (a TLS record decrypts to at most 16 KiB): one host call then
	// carries as much as a blocking read would have.
	var err error
	for k < len(b) {
		var m int
		m, err = s.src.ReadNow(b[k:])
		k += m
		if err != nil || m == 0 {
			break
		}
	}
	if k > 0 {
		s.scratch = buf
		if err != nil && !errors.Is(err, ErrWouldBlock) && s.err == nil {
			s.err = errtext.Bound(err) // reported by the next call
		}
		return (*buf)[:k:k], nil
	}
	pool.Put(buf)
	if err == nil || errors.Is(err, ErrWouldBlock) {
		return []byte{}, nil
	}
	if s.err == nil {
		s.err = errtext.Bound(err)
	}
	return nil, s.terminal()
}

// readOnceChunk is the buffer of a blocking read: it only has to wake the
// guest; the rest stays buffered in the source (for TLS, the decrypted
// record) for the guest's next inline Read.
const readOnceChunk = 2 << 10

// startOnce starts a one-shot background read unless one runs or there is
// something to report already; s.mu is held.
func (s *InlineInputStream) startOnce() {
	if s.busy || s.dropped || len(s.pending) > 0 || s.err != nil {
		return
	}
	s.busy = true
	go s.readOnce()
}

func (s *InlineInputStream) readOnce() {
	buf := smallReads.Get().(*[]byte)
	b := (*buf)[:readOnceChunk]
	if s.endOnDrop {
		s.dmu.Lock()
		s.onceReading = true
		if s.stopRead.Load() {
			s.src.SetReadDeadline(longAgo) // dropped since startOnce
		}
		s.dmu.Unlock()
	}
	n, err := s.src.Read(b)
	for n == 0 && err == nil {
		n, err = s.src.Read(b)
	}
	if s.endOnDrop {
		s.dmu.Lock()
		s.onceReading = false
		if s.stopRead.Load() {
			// Close may have ended this read: the socket's other
			// users find the deadline as it was.
			s.src.SetReadDeadline(time.Time{})
		}
		s.dmu.Unlock()
	}
	s.readDone(buf, n, err)
}

// readDone files what a blocking read got into buf, a smallReads buffer
// (its first n bytes), and wakes the waiters.
func (s *InlineInputStream) readDone(buf *[]byte, n int, err error) {
	s.mu.Lock()
	s.busy = false
	if s.wake != nil {
		// Drained by a call that returned since (a blocking read starts
		// with nothing pending): its bytes were copied.
		smallReads.Put(s.wake)
		s.wake = nil
	}
	if s.dropped || n == 0 {
		smallReads.Put(buf)
	} else {
		s.pending = (*buf)[:n]
		s.wake = buf
	}
	if !s.dropped && err != nil && s.err == nil && !isTimeoutErr(err) {
		s.err = errtext.Bound(err)
	}
	s.mu.Unlock()
	s.waiters.WakeAll()
}

// isTimeoutErr reports whether err is a net.Error that timed out. Its own
// function, so that errors.As's target moves to the heap only for an error,
// not on every read.
func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Await implements Awaiter: when nothing is there and no background read
// runs, the waiting goroutine reads the source itself, until bytes arrive,
// the deadline (if not zero) passes or ctx ends. It reports false when it
// cannot wait this way.
func (s *InlineInputStream) Await(ctx context.Context, deadline time.Time) bool {
	s.mu.Lock()
	if s.busy || s.dropped || len(s.pending) > 0 || s.err != nil {
		s.mu.Unlock()
		return false
	}
	if s.endAsked.Swap(false) {
		// Ended before it began: whoever ended it has something ready.
		s.mu.Unlock()
		return true
	}
	s.busy = true
	s.mu.Unlock()
	s.dmu.Lock()
	gen := s.awaitGen.Add(1)
	s.src.SetReadDeadline(deadline)
	if s.endAsked.Load() || s.stopRead.Load() {
		// Asked since this Await began: EndAwait saw no read in flight;
		// or the stream was dropped meanwhile (Close).
		s.src.SetReadDeadline(longAgo)
	}
	s.dmu.Unlock()
	stop := context.AfterFunc(ctx, func() { s.endRead(gen) })
	buf := smallReads.Get().(*[]byte)
	n, err := s.src.Read((*buf)[:readOnceChunk])
	stop()
	s.dmu.Lock()
	s.awaitGen.Add(1)
	s.src.SetReadDeadline(time.Time{})
	s.dmu.Unlock()
	s.endAsked.Store(false) // taken up by this Await
	s.readDone(buf, n, err)
	return true
}

// longAgo is a deadline that has passed: a read or write given it returns.
var longAgo = time.Unix(1, 0)

// EndAwait implements AwaitEnder: Await's read in progress gives up (a
// read deadline that has passed), or the next Await returns at once. It
// takes no lock: a Waker calls it under its WaitList's lock, and the
// deadline of a read in flight is set on a goroutine (endRead).
func (s *InlineInputStream) EndAwait() {
	if s.endAsked.Swap(true) {
		return // asked already: a read in flight is being ended
	}
	if gen := s.awaitGen.Load(); gen%2 == 1 {
		go s.endRead(gen)
	}
}

// ForgetEndAwait implements AwaitEnder: a request of EndAwait that no
// Await took up is dropped.
func (s *InlineInputStream) ForgetEndAwait() { s.endAsked.Store(false) }

// endRead ends Await's read gen early, if it is still in flight.
func (s *InlineInputStream) endRead(gen uint64) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if s.awaitGen.Load() == gen {
		s.src.SetReadDeadline(longAgo)
	}
}

// Read implements streams.InputStream: it returns what the source has at
// hand, up to n bytes, without blocking (the bytes of a blocking read
// first), an empty slice when nothing is there yet, closed at the end of
// input, and last-operation-failed when reading failed. The slice is
// valid until the next call on the stream: the bytes are copied once, by
// the glue into guest memory.
func (s *InlineInputStream) Read(ctx context.Context, n uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped {
		return nil, Closed()
	}
	s.returnLent()
	inline := !s.paused && !s.busy
	if len(s.pending) > 0 {
		if inline && n > uint64(len(s.pending)) && s.err == nil {
			// A blocking read (readOnceChunk) took the first bytes; the rest
			// of what the source has at hand (for TLS, the decrypted
			// record) joins them in this call, so that a blocking read
			// carries as much as an inline one.
			return s.readInline(n)
		}
		k := min(n, uint64(len(s.pending)))
		out := s.pending[:k:k]
		s.consume(int(k))
		return out, nil
	}
	if err := s.terminal(); err != nil {
		return nil, err
	}
	if inline && n > 0 {
		return s.readInline(n)
	}
	return []byte{}, nil
}

// consume drops k pending bytes; s.mu is held. A blocking read's buffer is
// its own: nobody refills it, and once drained it goes back to its pool
// at the next call (the last bytes taken from it are lent until then).
func (s *InlineInputStream) consume(k int) {
	s.pending = s.pending[k:]
	if len(s.pending) == 0 {
		s.pending = nil
	}
}

// returnLent returns the buffer of the last inline read, and that of a
// drained blocking read, to their pools; s.mu is held. Every call on the
// stream starts with it.
func (s *InlineInputStream) returnLent() {
	if s.wake != nil && len(s.pending) == 0 {
		smallReads.Put(s.wake)
		s.wake = nil
	}
	if s.scratch != nil {
		if len(*s.scratch) == ReadChunk {
			largeReads.Put(s.scratch)
		} else {
			smallReads.Put(s.scratch)
		}
		s.scratch = nil
	}
}

func (s *InlineInputStream) readPending(p []byte) (int, error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.returnLent()
	return takePending(&s.inputState, p, s.consume)
}

// Skip implements streams.InputStream: Read without the bytes.
func (s *InlineInputStream) Skip(ctx context.Context, n uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped {
		return 0, Closed()
	}
	s.returnLent()
	if len(s.pending) > 0 {
		k := min(n, uint64(len(s.pending)))
		s.consume(int(k))
		return k, nil
	}
	if err := s.terminal(); err != nil {
		return 0, err
	}
	if !s.paused && !s.busy && n > 0 {
		b, err := s.readInline(n)
		s.returnLent()
		return uint64(len(b)), err
	}
	return 0, nil
}

// BlockingRead implements streams.InputStream: Read that first waits until
// at least one byte or the end of the stream is there. When ctx ends first
// (the instance is being closed), the guest exits.
func (s *InlineInputStream) BlockingRead(ctx context.Context, n uint64) ([]byte, error) {
	return blockingRead(ctx, s, n, s.Read)
}

// BlockingSkip implements streams.InputStream: Skip that first waits like
// BlockingRead.
func (s *InlineInputStream) BlockingSkip(ctx context.Context, n uint64) (uint64, error) {
	return blockingSkip(ctx, s, n, s.Skip)
}

// Watch implements Source: a wait on more than this stream starts a
// one-shot background read.
func (s *InlineInputStream) Watch(w *Waker) {
	s.mu.Lock()
	s.startOnce()
	s.mu.Unlock()
	s.waiters.Add(w)
}

// Subscribe implements streams.InputStream: a pollable, child of the
// stream, that is ready when Read would return bytes or an error.
func (s *InlineInputStream) Subscribe(ctx context.Context) poll.Pollable { return subscribe(s) }

// Drop implements cabi.Resource: it closes the stream.
func (s *InlineInputStream) Drop() { s.Close() }

// Close drops the stream and calls the closer given to
// NewInlineInputStream. Buffered bytes are discarded. Close is
// idempotent. A socket's stream (SocketStreams), or one made to
// (EndReadOnDrop), also ends a blocking read in flight (a goroutine's,
// which a wait on the stream beside other pollables started, with its
// buffer): the socket (or connection) and its output stream may live on,
// and a silent peer would otherwise hold both until the socket closed.
func (s *InlineInputStream) Close() error {
	s.mu.Lock()
	if s.dropped {
		s.mu.Unlock()
		return nil
	}
	s.dropped = true
	s.pending = nil
	s.returnLent()
	busy := s.busy
	s.mu.Unlock()
	if s.endOnDrop && busy {
		s.stopRead.Store(true)
		s.dmu.Lock()
		if s.onceReading || s.awaitGen.Load()%2 == 1 {
			s.src.SetReadDeadline(longAgo)
		}
		s.dmu.Unlock()
	}
	return s.closeClaimed()
}
