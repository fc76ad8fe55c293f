package wasiio

import (
	"context"
	"io"
	"net"
	"sync"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
)

// An Input is an input stream of this package, either kind: an
// [InputStream], whose reader goroutine reads ahead, or an
// [InlineInputStream], which reads on the guest's calls. Both are the
// wasi:io/streams input-stream resource and the readiness source of its
// pollables; Close drops the stream.
type Input interface {
	streams.InputStream
	Source
	Close() error

	// reader is what the stream reads, for a transport that reads it
	// directly (see Transport).
	reader() io.Reader
	// untouched reports that the stream holds no bytes read from its
	// source and is not reading it, so that a transport may read the
	// source directly.
	untouched() bool
	// readPending takes buffered bytes or the end of the stream into p,
	// for a transport reading through the stream; ok is false when there
	// was neither.
	readPending(p []byte) (n int, err error, ok bool)
}

var (
	_ Input      = (*InputStream)(nil)
	_ Input      = (*InlineInputStream)(nil)
	_ AwaitEnder = (*InlineInputStream)(nil)
)

// ReadChunk is the most an input stream's reader goroutine reads at once;
// it reads at most two chunks ahead.
const ReadChunk = 64 << 10

// inputState is what both kinds of input stream hold: bytes read from
// the source and not consumed yet, how the input ended, and the wakers of
// the guest's waits. Its methods are called with mu held unless they say
// otherwise.
type inputState struct {
	closer io.Closer

	mu      sync.Mutex
	pending []byte // read and not consumed yet
	err     error  // what ended the input, reported after pending
	dropped bool
	waiters WaitList
}

// terminal reports the end of the stream. A failure is reported once, as
// last-operation-failed; afterwards the stream is closed.
func (s *inputState) terminal() error {
	if s.err == nil {
		return nil
	}
	se, failed := report(s.err)
	if failed {
		s.err = errClosed
	}
	return se
}

// Ready implements Source: bytes are buffered, or the stream ended. It
// takes mu.
func (s *inputState) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0 || s.err != nil || s.dropped
}

// Unwatch implements Source.
func (s *inputState) Unwatch(w *Waker) { s.waiters.Remove(w) }

// closeClaimed runs the closer after Close marked the stream dropped and
// woke its waiters (mu not held).
func (s *inputState) closeClaimed() error {
	s.waiters.WakeAll()
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// blockingRead is BlockingRead for either kind: a wait on src, then
// read. When ctx ends first (the instance is being closed), the guest
// exits.
func blockingRead(ctx context.Context, src Source, n uint64, read func(context.Context, uint64) ([]byte, error)) ([]byte, error) {
	if n > 0 {
		if err := waitOne(ctx, src); err != nil {
			Abort(ctx, err)
		}
	}
	return read(ctx, n)
}

// blockingSkip is BlockingSkip for either kind.
func blockingSkip(ctx context.Context, src Source, n uint64, skip func(context.Context, uint64) (uint64, error)) (uint64, error) {
	if n > 0 {
		if err := waitOne(ctx, src); err != nil {
			Abort(ctx, err)
		}
	}
	return skip(ctx, n)
}

// takePending is readPending for either kind, mu held: consume drops
// the n bytes copied.
func takePending(s *inputState, p []byte, consume func(n int)) (int, error, bool) {
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		consume(n)
		return n, nil, true
	}
	if s.dropped {
		return 0, net.ErrClosed, true
	}
	if err := s.terminal(); err != nil {
		return 0, Cause(err), true
	}
	return 0, nil, false
}

// subscribe is Subscribe for either kind: a pollable, child of the
// stream, that is ready when Read would return bytes or an error.
func subscribe(s Input) poll.Pollable { return NewPollable(s, s) }
