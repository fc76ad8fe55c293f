//go:build wasip1

package wasinet

import (
	"errors"
	goio "io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/wasitls/wasitls/guest/poll"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// wait parks until p is ready, d passes, or d is closed or changed (then it
// returns nil so the caller retries with the new deadline). The waits on
// one d run one at a time (their callers hold the stream's lock).
func wait(p io.Pollable, d *deadline) error {
	t, stamp, closed := d.watch()
	if closed {
		return net.ErrClosed
	}
	err := poll.WaitSince(p, t, &d.c, stamp)
	d.unwatch()
	if err == poll.ErrCanceled {
		if d.isClosed() {
			return net.ErrClosed
		}
		return nil
	}
	return err
}

// streamErr turns a stream error into a Go error: io.EOF for closed, the
// host's description for a failure (whose handle is dropped).
func streamErr(err error) error {
	se, ok := errors.AsType[*io.StreamError](err)
	if !ok {
		return err
	}
	if se.Closed {
		return goio.EOF
	}
	msg := se.Error()
	se.Drop()
	return errors.New(msg)
}

// StreamReader reads a wasi:io input-stream without blocking the guest. It is
// safe for one reader and concurrent SetDeadline/Close calls.
//
// A Read whose first read comes back empty waits on the stream's pollable
// and reads again. An empty read is not free: besides the host call, the
// host lowers its empty list through a call back into the guest's
// cabi_realloc, the dearest part of a host call. So once a Read had to
// wait, the following ones wait first and read once the stream is ready,
// as a request and its answer (an echo, an RPC) would make them do anyway;
// when bytes did arrive in between, the wait returns at once. A read that
// fills a buffer of [streamingRead] bytes or more says that the peer
// streams: the next Read reads first again.
type StreamReader struct {
	mu        sync.Mutex // serialises Read
	s         io.InputStream
	p         io.Pollable
	dl        deadline
	eof       bool
	waitFirst bool // the last Read had to wait
	reserved  bool // a Read has grown its goroutine's stack (reserveStack)
}

// streamingRead is the smallest buffer whose filling by one read puts a
// StreamReader back to reading before it waits.
const streamingRead = 4 << 10

// NewStreamReader returns a reader that owns s: Close drops it.
func NewStreamReader(s io.InputStream) *StreamReader {
	return &StreamReader{s: s}
}

// Init makes r, a zero StreamReader that nothing uses yet, own s, as
// NewStreamReader does: for a reader that is a field of another value
// (guest/tls's Conn), so that it costs no allocation of its own.
func (r *StreamReader) Init(s io.InputStream) { r.s = s }

// Read reads what is available, waiting (on the poller) until something is.
// It returns io.EOF once the stream is closed.
//
// A Read that reads first and finds data runs straight through, as a
// StreamWriter's Write does: one read, no loop, no defer (without a
// deadline: one set costs a look at the clock).
func (r *StreamReader) Read(b []byte) (int, error) {
	r.mu.Lock()
	if !r.waitFirst && !r.eof && len(b) > 0 && r.dl.fast() {
		n, err := r.s.ReadInto(b)
		if err == nil && n > 0 {
			r.mu.Unlock()
			return n, nil
		}
		if err != nil {
			err = streamErr(err)
			if err == goio.EOF {
				r.eof = true
			}
			r.mu.Unlock()
			return n, err
		}
		r.waitFirst = true
	}
	if !r.reserved {
		r.reserved = true
		reserveStack(0)
	}
	n, err := r.read(b)
	r.mu.Unlock()
	return n, err
}

// read is Read past its first read; r.mu is held.
func (r *StreamReader) read(b []byte) (int, error) {
	if r.dl.isClosed() {
		return 0, net.ErrClosed
	}
	// As in package net, a deadline that has passed fails the Read even
	// when bytes could be read at once.
	if r.dl.expired() {
		return 0, os.ErrDeadlineExceeded
	}
	if r.eof {
		return 0, goio.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	for {
		if r.waitFirst {
			if r.p == 0 {
				r.p = r.s.Subscribe()
			}
			if err := wait(r.p, &r.dl); err != nil {
				return 0, err
			}
		}
		n, err := r.s.ReadInto(b)
		if err != nil {
			err = streamErr(err)
			if err == goio.EOF {
				r.eof = true
			}
			return n, err
		}
		if n > 0 {
			if n == len(b) && n >= streamingRead {
				r.waitFirst = false
			}
			return n, nil
		}
		r.waitFirst = true
	}
}

// SetDeadline sets the deadline for pending and future Reads. After
// Close or Detach it returns net.ErrClosed, as a closed net.Conn does.
func (r *StreamReader) SetDeadline(t time.Time) error {
	if !r.dl.set(t) {
		return net.ErrClosed
	}
	return nil
}

// Detach stops r and returns its stream without dropping it; r must not be
// used afterwards.
func (r *StreamReader) Detach() io.InputStream {
	r.dl.close()
	r.mu.Lock()
	if r.p != 0 {
		r.p.Drop()
		r.p = 0
	}
	s := r.s
	r.s = 0
	r.mu.Unlock()
	return s
}

// Close wakes a pending Read and drops the stream.
func (r *StreamReader) Close() error {
	if s := r.Detach(); s != 0 {
		s.Drop()
	}
	return nil
}

// StreamWriter writes to a wasi:io output-stream without blocking the guest,
// within the stream's check-write budget. Each Write ends with a flush
// request.
type StreamWriter struct {
	mu sync.Mutex // serialises Write and Flush
	s  io.OutputStream
	p  io.Pollable
	dl deadline
	// flushed is set while nothing was written since the last flush
	// request: check-write then reports 0 until that flush is over, and
	// another request would wait for the same bytes.
	flushed bool
	// unflushed is set once bytes were written through w and cleared
	// when a flush was seen over with nothing written since (check-write
	// reports room only then): a Flush or Close of a writer that wrote
	// nothing, such as a TLS connection's that only read, asks the host
	// nothing.
	unflushed bool
}

// NewStreamWriter returns a writer that owns s: Close drops it.
func NewStreamWriter(s io.OutputStream) *StreamWriter {
	return &StreamWriter{s: s}
}

// Init makes w, a zero StreamWriter that nothing uses yet, own s, as
// NewStreamWriter does, for a writer that is a field of another value.
func (w *StreamWriter) Init(s io.OutputStream) { w.s = s }

// budget waits until the stream accepts at least one byte.
func (w *StreamWriter) budget() (uint64, error) {
	for {
		n, err := w.s.CheckWrite()
		if err != nil {
			return 0, streamErr(err)
		}
		if n > 0 {
			return n, nil
		}
		if w.p == 0 {
			w.p = w.s.Subscribe()
		}
		if err := wait(w.p, &w.dl); err != nil {
			return 0, err
		}
	}
}

// Write writes all of b, waiting for budget as needed, then requests a
// flush. A closed stream gives io.ErrClosedPipe.
//
// The common case, a permit that covers b and no deadline set, runs
// straight through (a deadline costs a look at the clock): one
// check-write, write and flush, no loop, no defer and no other lock than
// w.mu. Under wazero's termination checks every branch a Go function
// compiled to wasm takes, and every call of a function that has one, costs
// a call out of the guest, about what a host call costs (docs/wit2host.md,
// Guest side), so the per-write path is kept short in those terms.
func (w *StreamWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	if w.dl.fast() {
		n, err := w.s.CheckWrite()
		if err != nil {
			// Converted here: a failure's error handle is dropped once,
			// and a later check-write would only report closed.
			w.mu.Unlock()
			return 0, writeErr(streamErr(err))
		}
		if n >= uint64(len(b)) {
			w.flushed, w.unflushed = false, true
			if err := w.s.Write(b); err != nil {
				w.mu.Unlock()
				return 0, writeErr(streamErr(err))
			}
			err := w.s.Flush()
			w.flushed = err == nil
			w.mu.Unlock()
			if err != nil {
				return len(b), writeErr(streamErr(err))
			}
			return len(b), nil
		}
	}
	n, err := w.write(b)
	w.mu.Unlock()
	return n, err
}

// write is Write when the first permit did not cover b (or the writer was
// closed, or has a deadline): it writes b in chunks, waiting for budget
// between them, then requests a flush. w.mu is held.
func (w *StreamWriter) write(b []byte) (int, error) {
	if w.dl.isClosed() {
		return 0, net.ErrClosed
	}
	// As in package net, a deadline that has passed fails the Write even
	// when the stream could take b at once.
	if w.dl.expired() {
		return 0, os.ErrDeadlineExceeded
	}
	written := 0
	for written < len(b) {
		n, err := w.budget()
		if err != nil {
			return written, writeErr(err)
		}
		chunk := b[written:min(len(b), written+int(min(n, 1<<30)))]
		w.flushed, w.unflushed = false, true
		if err := w.s.Write(chunk); err != nil {
			return written, writeErr(streamErr(err))
		}
		written += len(chunk)
	}
	if err := w.requestFlush(); err != nil {
		return written, writeErr(streamErr(err))
	}
	return written, nil
}

func writeErr(err error) error {
	if err == goio.EOF {
		return goio.ErrClosedPipe
	}
	return err
}

// Flush waits until everything written through w has been flushed.
func (w *StreamWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dl.isClosed() {
		return net.ErrClosed
	}
	if !w.unflushed {
		return nil
	}
	if err := w.requestFlush(); err != nil {
		return writeErr(streamErr(err))
	}
	if _, err := w.budget(); err != nil {
		return writeErr(err)
	}
	w.unflushed = false
	return nil
}

// requestFlush requests a flush of what was written, unless the last
// request covers it (nothing was written since). w.mu is held.
func (w *StreamWriter) requestFlush() error {
	if w.flushed {
		return nil
	}
	err := w.s.Flush()
	w.flushed = err == nil
	return err
}

// ErrWriteInProgress is returned by FlushTimeout when a Write or Flush is
// in progress.
var ErrWriteInProgress = errors.New("wasinet: a write is in progress")

// FlushTimeout is Flush bounded, when no deadline is set, by timeout from
// the moment the flush has to wait: it sets that deadline then, so that a
// flush that is over at once (the common case of a Close: every Write
// requested its flush) reads no clock. A Close with a bound on delivery
// calls it.
//
// It does not wait for a Write or Flush in progress, which may be blocked
// for good on a peer that does not read: it returns ErrWriteInProgress at
// once. A Close then takes itself to break the Write, as crypto/tls's
// does, and closing the writer wakes the Write with net.ErrClosed.
func (w *StreamWriter) FlushTimeout(timeout time.Duration) error {
	if !w.mu.TryLock() {
		return ErrWriteInProgress
	}
	defer w.mu.Unlock()
	if w.dl.isClosed() {
		return net.ErrClosed
	}
	if !w.unflushed {
		return nil
	}
	if err := w.requestFlush(); err != nil {
		return writeErr(streamErr(err))
	}
	n, err := w.s.CheckWrite()
	if err != nil {
		return writeErr(streamErr(err))
	}
	if n == 0 {
		if t, _ := w.dl.peek(); t.IsZero() {
			w.dl.set(time.Now().Add(timeout))
		}
		if _, err := w.budget(); err != nil {
			return writeErr(err)
		}
	}
	w.unflushed = false
	return nil
}

// SetDeadline sets the deadline for pending and future Writes and
// Flushes. After Close or Detach it returns net.ErrClosed.
func (w *StreamWriter) SetDeadline(t time.Time) error {
	if !w.dl.set(t) {
		return net.ErrClosed
	}
	return nil
}

// Detach stops w and returns its stream without dropping it.
func (w *StreamWriter) Detach() io.OutputStream {
	w.dl.close()
	w.mu.Lock()
	if w.p != 0 {
		w.p.Drop()
		w.p = 0
	}
	s := w.s
	w.s = 0
	w.mu.Unlock()
	return s
}

// Close wakes a pending Write and drops the stream (without flushing: call
// Flush first to wait for delivery).
func (w *StreamWriter) Close() error {
	if s := w.Detach(); s != 0 {
		s.Drop()
	}
	return nil
}
