package wasiio

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/internal/errtext"
)

// An InputStream is the wasi:io/streams input-stream resource over an
// io.Reader, read ahead by a goroutine. See the package documentation for
// the model.
//
// Read, Skip and their blocking forms are called from one goroutine at a
// time (the guest's); the reader goroutine runs beside them.
type InputStream struct {
	inputState
	r io.Reader

	cond    sync.Cond // wakes the reader goroutine when pending was consumed
	started bool      // the reader goroutine runs (or ran)
	next    []byte    // a second chunk read ahead; non-nil only when pending is not empty
	// lent is set while the slice Read returned points into a buffer that
	// is no longer pending: the reader goroutine must not refill it until
	// the guest's next call on the stream, by when the glue has copied it
	// into guest memory. It identifies that buffer by its last byte.
	lent *byte

	// A socket's stream (newSocketInputStream): the connection, whose read
	// deadline Close sets in the past to end the goroutine's read in
	// flight, and which the goroutine clears once that read returned. rmu
	// orders the two; reading and ending are under it.
	deadline interface{ SetReadDeadline(time.Time) error }
	rmu      sync.Mutex
	reading  bool // the goroutine is in r.Read
	ending   bool // Close asked the goroutine's read to end
}

// NewInputStream returns an input stream reading r. Dropping the stream
// calls closer.Close (if closer is not nil), which must make a pending
// r.Read return so that the reader goroutine exits.
func NewInputStream(r io.Reader, closer io.Closer) *InputStream {
	s := &InputStream{inputState: inputState{closer: closer}, r: r}
	s.cond.L = &s.mu
	return s
}

// EndReadOnDrop makes Close end the goroutine's read in flight, as a
// socket's stream does: d's read deadline, set in the past, and cleared
// once the read returned. d is what bounds the reads of r (a TLS
// connection's transport), and r, ended by it, must lose nothing, as
// for a socket. Call it before the stream is used.
func (s *InputStream) EndReadOnDrop(d interface{ SetReadDeadline(time.Time) error }) {
	s.deadline = d
}

func (s *InputStream) reader() io.Reader { return s.r }

func (s *InputStream) untouched() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.started && !s.dropped
}

// start launches the reader goroutine; s.mu is held.
func (s *InputStream) start() {
	if s.started || s.dropped {
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
		n, err := s.read(buf)
		s.mu.Lock()
		if n > 0 {
			if len(s.pending) == 0 {
				s.pending = buf[:n]
			} else {
				s.next = buf[:n]
			}
		}
		if err != nil && s.err == nil {
			s.err = errtext.Bound(err)
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

// read is the goroutine's read of r. A socket's stream marks it in flight,
// so that Close ends it, and clears the deadline Close set once it
// returned.
func (s *InputStream) read(buf []byte) (int, error) {
	if s.deadline == nil {
		return s.r.Read(buf)
	}
	s.rmu.Lock()
	if s.ending {
		s.rmu.Unlock()
		return 0, net.ErrClosed
	}
	s.reading = true
	s.rmu.Unlock()
	n, err := s.r.Read(buf)
	s.rmu.Lock()
	s.reading = false
	if s.ending {
		s.deadline.SetReadDeadline(time.Time{})
	}
	s.rmu.Unlock()
	return n, err
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
	if len(s.pending) > 0 {
		k := min(n, uint64(len(s.pending)))
		out := s.pending[:k:k]
		s.consume(int(k), true)
		return out, nil
	}
	if err := s.terminal(); err != nil {
		return nil, err
	}
	return []byte{}, nil
}

// consume drops k pending bytes; s.mu is held. A buffer it empties goes
// back to the reader goroutine at once, unless lend is set: then the caller
// returns a view of it, and it stays lent until returnLent.
func (s *InputStream) consume(k int, lend bool) {
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
	if s.lent != nil {
		s.lent = nil
		s.cond.Signal()
	}
}

func (s *InputStream) readPending(p []byte) (int, error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.returnLent()
	return takePending(&s.inputState, p, func(n int) { s.consume(n, false) })
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
	return 0, nil
}

// BlockingRead implements streams.InputStream: Read that first waits until
// at least one byte or the end of the stream is there. When ctx ends first
// (the instance is being closed), the guest exits.
func (s *InputStream) BlockingRead(ctx context.Context, n uint64) ([]byte, error) {
	return blockingRead(ctx, s, n, s.Read)
}

// BlockingSkip implements streams.InputStream: Skip that first waits like
// BlockingRead.
func (s *InputStream) BlockingSkip(ctx context.Context, n uint64) (uint64, error) {
	return blockingSkip(ctx, s, n, s.Skip)
}

// Watch implements Source. Watching starts the reader goroutine.
func (s *InputStream) Watch(w *Waker) {
	s.mu.Lock()
	s.start()
	s.mu.Unlock()
	s.waiters.Add(w)
}

// Subscribe implements streams.InputStream: a pollable, child of the
// stream, that is ready when Read would return bytes or an error.
func (s *InputStream) Subscribe(ctx context.Context) poll.Pollable { return subscribe(s) }

// Drop implements cabi.Resource: it closes the stream.
func (s *InputStream) Drop() { s.Close() }

// Close drops the stream: it stops the reader goroutine and calls the
// closer given to NewInputStream. Buffered bytes are discarded. Close is
// idempotent. A socket's stream also ends the goroutine's read in flight
// (a read deadline in the past, cleared once the read returned): the
// socket and its output stream may live on, and a silent peer would
// otherwise hold the goroutine and its buffers until the socket closed.
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
	started := s.started
	s.mu.Unlock()
	if s.deadline != nil && started {
		s.rmu.Lock()
		s.ending = true
		if s.reading {
			s.deadline.SetReadDeadline(longAgo)
		}
		s.rmu.Unlock()
	}
	return s.closeClaimed()
}
