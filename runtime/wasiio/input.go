package wasiio

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
)

var _ streams.InputStream = (*InputStream)(nil)

// ReadChunk is the most an input stream's reader goroutine reads at once;
// it reads at most two chunks ahead.
const ReadChunk = 64 << 10

// An InputStream is the wasi:io/streams input-stream resource over an
// io.Reader. See the package documentation for the model.
//
// Read, Skip and their blocking forms are called from one goroutine at a
// time (the guest's); the reader goroutine runs beside them.
type InputStream struct {
	r      io.Reader
	closer io.Closer

	mu      sync.Mutex
	cond    sync.Cond // wakes the reader goroutine when pending was consumed
	started bool      // the reader goroutine runs (or ran)
	pending []byte    // read ahead and not consumed yet
	next    []byte    // a second chunk read ahead; non-nil only when pending is not empty
	err     error     // what ended the input, reported after pending
	dropped bool
	// lent is set while the slice Read returned points into a buffer that
	// is no longer pending: the reader goroutine must not refill it until
	// the guest's next call on the stream, by when the glue has copied it
	// into guest memory. It identifies that buffer by its last byte.
	lent    *byte
	waiters WaitList

	// Inline mode (NewInlineInputStream): reads run on the guest's calls.
	now     InlineSource
	paused  bool    // reads stay off the guest's calls (see PauseInline)
	busy    bool    // a one-shot background read is in flight
	scratch *[]byte // the buffer of the last inline read, lent like lent
}

// NewInputStream returns an input stream reading r. Dropping the stream
// calls closer.Close (if closer is not nil), which must make a pending
// r.Read return so that the reader goroutine exits.
func NewInputStream(r io.Reader, closer io.Closer) *InputStream {
	s := &InputStream{r: r, closer: closer}
	s.cond.L = &s.mu
	return s
}

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

// NewInlineInputStream returns an input stream that reads on the guest's
// own calls: Read calls src.ReadNow, so that no goroutine hand-off stands
// between the guest and its bytes. When the guest waits on the stream
// alone (with deadlines at most), the waiting call itself blocks in
// src.Read; when it waits on more, a goroutine makes one blocking Read.
// Either way the bytes read are what the next Read returns.
func NewInlineInputStream(src InlineSource, closer io.Closer) *InputStream {
	s := NewInputStream(src, closer)
	s.now = src
	return s
}

// untouched reports that the stream holds no bytes read from its source
// and is not reading it, so that a transport may read the source
// directly.
func (s *InputStream) untouched() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now != nil {
		return !s.busy && len(s.pending) == 0 && !s.dropped
	}
	return !s.started && !s.dropped
}

// PauseInline stops reading on the guest's calls, once the read in
// progress (if any) returned: from now on the stream reads only on a
// goroutine, when the guest waits. The wasi:tls host pauses a connection
// whose backend must read the transport itself (post-handshake
// authentication), since the non-blocking mode of a transport is the
// transport's, not a caller's.
func (s *InputStream) PauseInline() {
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
func (s *InputStream) readInline(n uint64) ([]byte, error) {
	pool := &largeReads
	if n <= 4<<10 {
		pool = &smallReads
	}
	buf := pool.Get().(*[]byte)
	b := (*buf)[:min(n, uint64(len(*buf)))]
	// What a wake-up read left pending comes first (Read calls here
	// with less pending than asked for).
	k := copy(b, s.pending)
	s.consume(k, false)
	// Fill what the guest asked for while the source has bytes at hand
	// (a TLS record decrypts to at most 16 KiB): one host call then
	// carries as much as a blocking read would have.
	var err error
	for k < len(b) {
		var m int
		m, err = s.now.ReadNow(b[k:])
		k += m
		if err != nil || m == 0 {
			break
		}
	}
	if k > 0 {
		s.scratch = buf
		if err != nil && !errors.Is(err, ErrWouldBlock) && s.err == nil {
			s.err = err // reported by the next call
		}
		return (*buf)[:k:k], nil
	}
	pool.Put(buf)
	if err == nil || errors.Is(err, ErrWouldBlock) {
		return []byte{}, nil
	}
	if s.err == nil {
		s.err = err
	}
	return nil, s.terminal()
}

// readOnceChunk is the buffer of a background read in inline mode: it only
// has to wake the guest; the rest stays buffered in the source (for TLS,
// the decrypted record) for the guest's next inline Read.
const readOnceChunk = 2 << 10

// startOnce starts a one-shot background read unless one runs or there is
// something to report already; s.mu is held.
func (s *InputStream) startOnce() {
	if s.busy || s.dropped || len(s.pending) > 0 || s.err != nil {
		return
	}
	s.busy = true
	go s.readOnce()
}

func (s *InputStream) readOnce() {
	buf := make([]byte, readOnceChunk)
	n, err := s.r.Read(buf)
	for n == 0 && err == nil {
		n, err = s.r.Read(buf)
	}
	s.readDone(buf[:n], err)
}

// readDone files what a blocking read got and wakes the waiters.
func (s *InputStream) readDone(b []byte, err error) {
	s.mu.Lock()
	s.busy = false
	if !s.dropped {
		if len(b) > 0 {
			s.pending = b
		}
		var ne net.Error
		if err != nil && s.err == nil && !(errors.As(err, &ne) && ne.Timeout()) {
			s.err = err
		}
	}
	s.mu.Unlock()
	s.waiters.WakeAll()
}

// Await implements Awaiter: in inline mode, when nothing is there and no
// background read runs, the waiting goroutine reads the source itself,
// until bytes arrive, the deadline (if not zero) passes or ctx ends. It
// reports false when it cannot wait this way.
func (s *InputStream) Await(ctx context.Context, deadline time.Time) bool {
	s.mu.Lock()
	if s.now == nil || s.busy || s.dropped || len(s.pending) > 0 || s.err != nil {
		s.mu.Unlock()
		return false
	}
	s.busy = true
	s.mu.Unlock()
	s.now.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { s.now.SetReadDeadline(time.Unix(1, 0)) })
	buf := make([]byte, readOnceChunk)
	n, err := s.r.Read(buf)
	stop()
	s.now.SetReadDeadline(time.Time{})
	s.readDone(buf[:n], err)
	return true
}

// start launches the reader goroutine; s.mu is held. In inline mode there
// is none: reads happen on the guest's calls or in startOnce.
func (s *InputStream) start() {
	if s.started || s.dropped || s.now != nil {
		return
	}
	s.started = true
	go s.run()
}

func (s *InputStream) run() {
	// Start small and grow while reads fill the buffer, so that thousands
	// of idle connections do not each pin a full chunk. Two buffers take
	// turns: the goroutine reads the next chunk while the guest consumes
	// the current one, so that reading (for TLS: decrypting) overlaps with
	// the guest's work.
	bufs := [2][]byte{make([]byte, 4<<10)}
	for i := 0; ; i ^= 1 {
		if bufs[i] == nil {
			bufs[i] = make([]byte, len(bufs[i^1]))
		}
		buf := bufs[i]
		n, err := s.r.Read(buf)
		s.mu.Lock()
		if n > 0 {
			if len(s.pending) == 0 {
				s.pending = buf[:n]
			} else {
				s.next = buf[:n]
			}
		}
		if err != nil && s.err == nil {
			s.err = err
		}
		if n > 0 || err != nil {
			s.waiters.WakeAll()
		}
		// The other buffer is free once it is neither pending, next nor
		// lent.
		for !s.dropped && (s.next != nil || s.lent != nil && bufs[i^1] != nil && s.lent == lastByte(bufs[i^1])) {
			s.cond.Wait()
		}
		stop := s.dropped || s.err != nil
		s.mu.Unlock()
		if stop {
			return
		}
		if n == len(buf) && len(buf) < ReadChunk {
			// The full buffer stays with its reader until consumed; this
			// index gets a larger one for its next turn.
			bufs[i] = make([]byte, 2*len(buf))
		}
	}
}

// terminal reports the end of the stream; s.mu is held. A failure is
// reported once, as last-operation-failed; afterwards the stream is closed.
func (s *InputStream) terminal() error {
	if s.err == nil {
		return nil
	}
	se, failed := report(s.err)
	if failed {
		s.err = errClosed
	}
	return se
}

// Read implements streams.InputStream: it returns up to n bytes that are
// already buffered, without blocking, an empty slice when nothing is there
// yet, closed at the end of input, and last-operation-failed when reading
// failed. The slice is a view of the stream's buffer, valid until the next
// call on the stream: the bytes are copied once, by the glue into guest
// memory.
func (s *InputStream) Read(ctx context.Context, n uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped {
		return nil, Closed()
	}
	s.start()
	s.returnLent()
	inline := s.now != nil && !s.paused && !s.busy
	if len(s.pending) > 0 {
		if inline && n > uint64(len(s.pending)) && s.err == nil {
			// A wake-up read (readOnceChunk) took the first bytes; the
			// rest of what the source has at hand (for TLS, the
			// decrypted record) joins them in this call, so that a
			// blocking read carries as much as an inline one.
			return s.readInline(n)
		}
		k := min(n, uint64(len(s.pending)))
		out := s.pending[:k:k]
		s.consume(int(k), true)
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

// consume drops k pending bytes; s.mu is held. A buffer it empties goes
// back to the reader goroutine at once, unless lend is set: then the caller
// returns a view of it, and it stays lent until returnLent.
func (s *InputStream) consume(k int, lend bool) {
	if s.now != nil {
		// A one-shot read's buffer is its own; nobody refills it.
		s.pending = s.pending[k:]
		if len(s.pending) == 0 {
			s.pending = nil
		}
		return
	}
	if k == len(s.pending) && lend {
		s.lent = lastByte(s.pending)
	}
	s.pending = s.pending[k:]
	if len(s.pending) == 0 {
		s.pending, s.next = s.next, nil
		s.cond.Signal()
	}
}

// lastByte identifies the buffer b is a slice of (b is not empty).
func lastByte(b []byte) *byte {
	b = b[:cap(b)]
	return &b[len(b)-1]
}

// returnLent gives a lent buffer back to the reader goroutine; s.mu is
// held. Every call on the stream starts with it.
func (s *InputStream) returnLent() {
	if s.scratch != nil {
		if len(*s.scratch) == ReadChunk {
			largeReads.Put(s.scratch)
		} else {
			smallReads.Put(s.scratch)
		}
		s.scratch = nil
	}
	if s.lent != nil {
		s.lent = nil
		s.cond.Signal()
	}
}

// Skip implements streams.InputStream: Read without the bytes.
func (s *InputStream) Skip(ctx context.Context, n uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped {
		return 0, Closed()
	}
	s.start()
	s.returnLent()
	if len(s.pending) > 0 {
		k := min(n, uint64(len(s.pending)))
		s.consume(int(k), false)
		return k, nil
	}
	if err := s.terminal(); err != nil {
		return 0, err
	}
	if s.now != nil && !s.paused && !s.busy && n > 0 {
		b, err := s.readInline(n)
		s.returnLent()
		return uint64(len(b)), err
	}
	return 0, nil
}

// BlockingRead implements streams.InputStream: Read that first waits until
// at least one byte or the end of the stream is there. When ctx ends first
// (the instance is being closed), the guest exits.
func (s *InputStream) BlockingRead(ctx context.Context, n uint64) ([]byte, error) {
	if n > 0 {
		if _, err := Wait(ctx, []Source{s}); err != nil {
			Abort(ctx, err)
		}
	}
	return s.Read(ctx, n)
}

// BlockingSkip implements streams.InputStream: Skip that first waits like
// BlockingRead.
func (s *InputStream) BlockingSkip(ctx context.Context, n uint64) (uint64, error) {
	if n > 0 {
		if _, err := Wait(ctx, []Source{s}); err != nil {
			Abort(ctx, err)
		}
	}
	return s.Skip(ctx, n)
}

// Ready implements Source: bytes are buffered, or the stream ended.
func (s *InputStream) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0 || s.err != nil || s.dropped
}

// Watch implements Source. Watching starts the reader goroutine, or in
// inline mode a one-shot background read.
func (s *InputStream) Watch(w *Waker) {
	s.mu.Lock()
	if s.now != nil {
		s.startOnce()
	} else {
		s.start()
	}
	s.mu.Unlock()
	s.waiters.Add(w)
}

// Unwatch implements Source.
func (s *InputStream) Unwatch(w *Waker) { s.waiters.Remove(w) }

// Subscribe implements streams.InputStream: a pollable, child of the
// stream, that is ready when Read would return bytes or an error.
func (s *InputStream) Subscribe(ctx context.Context) poll.Pollable { return NewPollable(s, s) }

// Drop implements cabi.Resource: it closes the stream.
func (s *InputStream) Drop() { s.Close() }

// Close drops the stream: it stops the reader goroutine and calls the
// closer given to NewInputStream. Buffered bytes are discarded. Close is
// idempotent.
func (s *InputStream) Close() error {
	s.mu.Lock()
	if s.dropped {
		s.mu.Unlock()
		return nil
	}
	s.dropped = true
	s.pending, s.next = nil, nil
	s.returnLent()
	s.cond.Broadcast()
	s.mu.Unlock()
	s.waiters.WakeAll()
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}
