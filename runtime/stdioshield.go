package runtime

import (
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"github.com/wasitls/wasitls/internal/safelog"
)

// The embedder's standard streams (ModuleConfig.Stdin, Stdout, Stderr)
// are its code, called on goroutines of the runtime's (stdinReader,
// outputWriter, wasiio's streams) where a panic would end the whole
// process, and a guest chooses what they are handed: a writer that
// panics on some input, or a bytes.Buffer grown until it panics with
// bytes.ErrTooLarge, would let a guest crash its host. So each guest
// holds them shielded: a panic of the embedder's reader or writer is
// recovered into a *StdioPanicError, which ends that stream (every
// later call fails with it without entering the embedder's code again):
// the guest sees a stream error (wasi:cli's last-operation-failed, or
// EIO from fd_read or fd_write) and the panic, with its stack, is logged
// once (Config.Logger, else slog.Default()). A count the reader or writer
// returns outside the buffer it was given (which io.Reader and io.Writer
// forbid, and which the runtime would slice the buffer by) ends the
// stream the same way, as a *StdioCountError.

// A StdioPanicError is the failure of a guest's standard stream whose
// embedder's reader or writer panicked. Its message names the stream and
// the panic's value, on one bounded line; the stack goes to the log only.
type StdioPanicError struct {
	Stream string // "stdin", "stdout" or "stderr"
	Value  string // the panic's value, on one line, at most safelog.MaxPanicValue bytes
}

func (e *StdioPanicError) Error() string {
	return "runtime: the embedder's " + e.Stream + " panicked: " + e.Value
}

// A StdioCountError is the failure of a guest's standard stream whose
// embedder's reader or writer returned a count N outside the Len bytes
// it was given.
type StdioCountError struct {
	Stream string // "stdin", "stdout" or "stderr"
	Op     string // "Read" or "Write"
	N, Len int
}

func (e *StdioCountError) Error() string {
	return fmt.Sprintf("runtime: the embedder's %s returned %d from a %s of %d bytes", e.Stream, e.N, e.Op, e.Len)
}

// stdioShield is what the shielded reader and writer share: the stream's
// name, where a panic is logged, and the failure (a *StdioPanicError or
// a *StdioCountError) that ended the stream.
type stdioShield struct {
	stream string
	log    *slog.Logger
	failed atomic.Pointer[stdioFailure]
}

type stdioFailure struct{ err error }

// catch is deferred around a call of the embedder's reader or writer: it
// recovers a panic into *err and logs it, the first time only.
func (s *stdioShield) catch(err *error) {
	v := recover()
	if v == nil {
		return
	}
	*err = s.fail(&StdioPanicError{Stream: s.stream, Value: safelog.PanicValue(v)}, "panicked", debug.Stack())
}

// badCount ends the stream for n, returned by op of a buffer of size
// bytes and outside it, and returns the failure that ended it.
func (s *stdioShield) badCount(op string, n, size int) error {
	return s.fail(&StdioCountError{Stream: s.stream, Op: op, N: n, Len: size}, "returned an invalid count", nil)
}

// fail ends the stream with err, logged with stack (when not nil), unless
// another call failed it first: it returns the failure that ended it.
func (s *stdioShield) fail(err error, what string, stack []byte) error {
	if !s.failed.CompareAndSwap(nil, &stdioFailure{err}) {
		return s.failed.Load().err // another call failed first, and logged
	}
	args := []any{"err", err}
	if stack != nil {
		args = append(args, "stack", string(stack))
	}
	safelog.Log(safelog.OrDefault(s.log), slog.LevelError, "runtime: the embedder's "+s.stream+" "+what, args...)
	return err
}

// shieldedReader is the embedder's standard input as a guest reads it.
type shieldedReader struct {
	stdioShield
	r io.Reader
}

func (s *shieldedReader) Read(p []byte) (n int, err error) {
	if f := s.failed.Load(); f != nil {
		return 0, f.err
	}
	defer s.catch(&err)
	if n, err = s.r.Read(p); n < 0 || n > len(p) {
		return 0, s.badCount("Read", n, len(p))
	}
	return n, err
}

// shieldedWriter is the embedder's standard output or error as a guest
// writes it.
type shieldedWriter struct {
	stdioShield
	w io.Writer
}

func (s *shieldedWriter) Write(p []byte) (n int, err error) {
	if f := s.failed.Load(); f != nil {
		return 0, f.err
	}
	defer s.catch(&err)
	if n, err = s.w.Write(p); n < 0 || n > len(p) {
		return 0, s.badCount("Write", n, len(p))
	}
	return n, err
}

// shieldStdio returns cfg with its standard streams shielded, panics
// logged to log.
func shieldStdio(cfg ModuleConfig, log *slog.Logger) ModuleConfig {
	if cfg.Stdin != nil {
		cfg.Stdin = &shieldedReader{stdioShield{stream: "stdin", log: log}, cfg.Stdin}
	}
	if cfg.Stdout != nil {
		cfg.Stdout = &shieldedWriter{stdioShield{stream: "stdout", log: log}, cfg.Stdout}
	}
	if cfg.Stderr != nil {
		cfg.Stderr = &shieldedWriter{stdioShield{stream: "stderr", log: log}, cfg.Stderr}
	}
	return cfg
}
