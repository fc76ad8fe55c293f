package wasiio

import (
	"context"
	"errors"
	"io"
	"sync"
)

// WriteBudget is what CheckWrite grants when no write is in flight.
const WriteBudget = 64 << 10

// ErrWriteBudget is returned by Write when the contents exceed what
// CheckWrite granted. WASI makes that a guest trap.
var ErrWriteBudget = errors.New("wasiio: write exceeds the check-write budget")

// An OutputStream is the wasi:io/streams output-stream resource over an
// io.Writer. See the package documentation for the model.
type OutputStream struct {
	w       io.Writer
	onClose func() error

	mu       sync.Mutex
	cond     sync.Cond // wakes the writer goroutine
	started  bool
	inflight []byte // handed to the writer goroutine, nil when idle
	buf      []byte // backing store for inflight
	err      error  // what ended the stream
	dropped  bool
	waiters  WaitList
}

// NewOutputStream returns an output stream writing to w. Dropping the
// stream calls closeWrite (if not nil): a socket releases its connection, a
// TLS stream sends close_notify. A write still in flight at that moment may
// be lost, as WASI allows; guests flush before they drop.
func NewOutputStream(w io.Writer, closeWrite func() error) *OutputStream {
	s := &OutputStream{w: w, onClose: closeWrite}
	s.cond.L = &s.mu
	return s
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
		if err != nil && s.err == nil {
			s.err = err
		}
		s.waiters.WakeAll()
		if s.err != nil {
			s.mu.Unlock()
			return
		}
	}
}

// terminal reports why the stream ended; s.mu is held.
func (s *OutputStream) terminal() error {
	if s.dropped {
		return ErrClosed
	}
	if s.err == nil {
		return nil
	}
	if s.err == ErrClosed || errors.Is(s.err, io.ErrClosedPipe) {
		return ErrClosed
	}
	err := failure(s.err)
	s.err = ErrClosed
	return err
}

// CheckWrite returns how many bytes Write accepts now: WriteBudget when
// idle, zero while a write is in flight.
func (s *OutputStream) CheckWrite() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.terminal(); err != nil {
		return 0, err
	}
	if s.inflight != nil {
		return 0, nil
	}
	return WriteBudget, nil
}

// Write hands a copy of p to the writer goroutine without blocking. p must
// fit the budget CheckWrite granted, else ErrWriteBudget.
func (s *OutputStream) Write(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeLocked(p, false)
}

func (s *OutputStream) writeLocked(p []byte, zeroes bool) error {
	if err := s.terminal(); err != nil {
		return err
	}
	if len(p) == 0 {
		return nil
	}
	if s.inflight != nil || len(p) > WriteBudget {
		return ErrWriteBudget
	}
	if cap(s.buf) < len(p) {
		s.buf = make([]byte, WriteBudget)
	}
	b := s.buf[:len(p)]
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

// WriteZeroes is Write of n zero bytes.
func (s *OutputStream) WriteZeroes(n uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > WriteBudget {
		if err := s.terminal(); err != nil {
			return err
		}
		return ErrWriteBudget
	}
	return s.writeLocked(make([]byte, n), true)
}

// Flush starts flushing what was written. Writes are handed to the writer
// goroutine as they come, so there is nothing more to start: the flush is
// complete when CheckWrite grants a budget again.
func (s *OutputStream) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terminal()
}

// BlockingFlush waits until every write completed, and reports the
// stream's state. It returns ctx.Err() when ctx ends the wait.
func (s *OutputStream) BlockingFlush(ctx context.Context) error {
	if _, err := Wait(ctx, []Source{s}); err != nil {
		return err
	}
	return s.Flush()
}

// BlockingWriteAndFlush writes all of p and waits until it is flushed.
// Contents larger than WriteBudget are written in several steps.
func (s *OutputStream) BlockingWriteAndFlush(ctx context.Context, p []byte) error {
	return s.blockingWrite(ctx, p, uint64(len(p)))
}

// BlockingWriteZeroesAndFlush writes n zero bytes and waits until they are
// flushed.
func (s *OutputStream) BlockingWriteZeroesAndFlush(ctx context.Context, n uint64) error {
	return s.blockingWrite(ctx, nil, n)
}

func (s *OutputStream) blockingWrite(ctx context.Context, p []byte, n uint64) error {
	for {
		if err := s.BlockingFlush(ctx); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		k := min(n, WriteBudget)
		s.mu.Lock()
		var err error
		if p == nil {
			err = s.writeLocked(make([]byte, k), true)
		} else {
			err = s.writeLocked(p[:k], false)
			p = p[k:]
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		n -= k
	}
}

// Splice moves up to n bytes that src has buffered into the stream without
// blocking, within the write budget, and returns how many moved. Errors of
// either stream are reported as they are.
func (s *OutputStream) Splice(src *InputStream, n uint64) (uint64, error) {
	budget, err := s.CheckWrite()
	if err != nil {
		return 0, err
	}
	data, err := src.Read(min(n, budget))
	if err != nil {
		return 0, err
	}
	if err := s.Write(data); err != nil {
		return 0, err
	}
	return uint64(len(data)), nil
}

// BlockingSplice is Splice that first waits until src has bytes or ended
// and the stream accepts a write.
func (s *OutputStream) BlockingSplice(ctx context.Context, src *InputStream, n uint64) (uint64, error) {
	if n > 0 {
		if err := s.BlockingFlush(ctx); err != nil {
			return 0, err
		}
		if _, err := Wait(ctx, []Source{src}); err != nil {
			return 0, err
		}
	}
	return s.Splice(src, n)
}

// Ready implements Source: a write would be accepted, or the stream ended.
func (s *OutputStream) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight == nil || s.err != nil || s.dropped
}

// Watch implements Source.
func (s *OutputStream) Watch(w *Waker) { s.waiters.Add(w) }

// Unwatch implements Source.
func (s *OutputStream) Unwatch(w *Waker) { s.waiters.Remove(w) }

// Subscribe returns a pollable, child of the stream, that is ready when
// CheckWrite would grant a budget or report an error.
func (s *OutputStream) Subscribe() *Pollable { return NewPollable(s, s) }

// waitIdle waits until no write is in flight, without a context: it is
// used where the stream is no longer the guest's and dropping it unblocks.
func (s *OutputStream) waitIdle() error {
	_, err := Wait(context.Background(), []Source{s})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terminal()
}

// Close drops the stream: it stops the writer goroutine (a write in flight
// completes or fails on its own) and calls the closeWrite function given to
// NewOutputStream. Close is idempotent.
func (s *OutputStream) Close() error {
	s.mu.Lock()
	if s.dropped {
		s.mu.Unlock()
		return nil
	}
	s.dropped = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.waiters.WakeAll()
	if s.onClose != nil {
		return s.onClose()
	}
	return nil
}
