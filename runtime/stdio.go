package runtime

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/runtime/wasiio"
)

// stdinChunk is the most one read of a guest's standard input asks of
// the embedder's reader.
const stdinChunk = 64 << 10

// stdinReader is a guest's standard input for wasi_snapshot_preview1
// (fd_read of descriptor 0, a Go guest's os.Stdin, and poll_oneoff's
// subscriptions to it), over the embedder's reader: each read of the
// reader runs on a goroutine of its own, and the guest's call waits for
// it or for the guest's context, which Close cancels, whichever comes
// first, as a wait in wasi:io/poll does. wazero reads the reader on the
// guest's call, out of reach of both: a guest reading a pipe or terminal
// nobody wrote to could be neither cancelled nor closed, and `wasitls run`
// ignored SIGINT, until input came.
//
// A read still running when the guest ends is left to end with the
// reader (at its next input, or when the embedder closes it); what it
// reads then is dropped.
type stdinReader struct {
	waits *waits
	r     io.Reader

	mu      sync.Mutex
	pending chan struct{} // closed when the read running ends; nil: none runs
	buf     []byte        // read and not taken yet
	err     error         // the reader's error, once buf is taken
}

func newStdinReader(w *waits, r io.Reader) *stdinReader {
	return &stdinReader{waits: w, r: r}
}

// wait waits until input is buffered or the reader failed (true), for at
// most timeout (negative: no bound) or until the guest's context or its
// call's ends (that context).
func (s *stdinReader) wait(timeout time.Duration) (bool, context.Context) {
	s.mu.Lock()
	if len(s.buf) > 0 || s.err != nil {
		s.mu.Unlock()
		return true, nil
	}
	if s.pending == nil {
		done := make(chan struct{})
		s.pending = done
		go s.read(done)
	}
	done := s.pending
	s.mu.Unlock()
	var expired <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	call, callDone := s.waits.callDone()
	select {
	case <-done:
		return true, nil
	case <-expired:
		return false, nil
	case <-s.waits.guest.Done():
		return false, s.waits.guest
	case <-callDone:
		return false, call
	}
}

// read reads the reader once, on its own goroutine, and closes done.
func (s *stdinReader) read(done chan struct{}) {
	b := make([]byte, stdinChunk)
	n, err := s.r.Read(b)
	s.mu.Lock()
	s.buf, s.err = b[:n], err
	s.pending = nil
	s.mu.Unlock()
	close(done)
}

// Read implements io.Reader: it returns what is buffered, waiting for a
// read of the reader when nothing is. When the guest's context ends first
// the guest exits, as from a wait in wasi:io/poll (wasiio.Abort).
func (s *stdinReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if _, ended := s.wait(-1); ended != nil {
			wasiio.Abort(ended, ended.Err())
		}
		s.mu.Lock()
		switch {
		case len(s.buf) > 0:
			n := copy(p, s.buf)
			s.buf = s.buf[n:]
			s.mu.Unlock()
			return n, nil
		case s.err != nil:
			err := s.err
			s.mu.Unlock()
			return 0, err
		}
		s.mu.Unlock() // the reader returned nothing: read again
	}
}

// Poll implements wazero's experimentalsys.Pollable, which poll_oneoff
// uses for a subscription to standard input: ready once input is
// buffered or the reader failed, within timeoutMillis (negative: no
// bound); when the guest's context ends first the guest exits.
func (s *stdinReader) Poll(flag experimentalsys.Pflag, timeoutMillis int32) (bool, experimentalsys.Errno) {
	if flag != experimentalsys.POLLIN {
		return false, experimentalsys.ENOTSUP
	}
	timeout := time.Duration(-1)
	if d, ok := s.waits.pollTimeout(); ok {
		timeout = d // the guest's, whole
	} else if timeoutMillis >= 0 {
		timeout = time.Duration(timeoutMillis) * time.Millisecond
	}
	ready, ended := s.wait(timeout)
	if ended != nil {
		wasiio.Abort(ended, ended.Err())
	}
	return ready, 0
}

// stdoutChunk is the most of a guest's write to its standard output or
// error that is handed to the embedder's writer at once: what is handed
// over is a copy (the guest's memory may be gone before a write it gave
// up on ends), which a write of the whole memory must not make at once.
const stdoutChunk = 64 << 10

// outputWriter is a guest's standard output or error for
// wasi_snapshot_preview1 (fd_write of descriptors 1 and 2) over the
// embedder's writer: each write of the writer runs on a goroutine of its
// own, of a copy of at most stdoutChunk bytes, and the guest's call waits
// for it or for the guest's context, whichever comes first; when the
// context ends first the guest exits (wasiio.Abort). wazero writes the
// writer on the guest's call: a writer that blocks (a pipe nobody reads)
// held the guest's call out of reach of its context and Close. A writer
// that cannot block (a bytes.Buffer, a strings.Builder, io.Discard) is
// written on the guest's call.
//
// A write still running when the guest ends is left to end with the
// writer.
type outputWriter struct {
	waits *waits
	w     io.Writer
	buf   []byte // the copy handed to the writer; nil after a write given up on
}

// newOutputWriter returns w as the guest's standard output or error.
func newOutputWriter(waits *waits, w io.Writer) io.Writer {
	inner := w
	if s, ok := w.(*shieldedWriter); ok {
		inner = s.w
	}
	switch inner.(type) {
	case *bytes.Buffer, *strings.Builder:
		return w
	}
	if inner == io.Discard {
		return w
	}
	return &outputWriter{waits: waits, w: w}
}

type writeResult struct {
	n   int
	err error
}

// Write implements io.Writer, writing p in chunks, each waited for until
// the guest's context or its call's ends (the call's, read once: one call
// makes the whole write).
func (o *outputWriter) Write(p []byte) (int, error) {
	written := 0
	call, callDone := o.waits.callDone()
	for len(p) > 0 {
		if k := min(len(p), stdoutChunk); cap(o.buf) < k {
			o.buf = make([]byte, k)
		}
		b := o.buf[:copy(o.buf[:cap(o.buf)], p)]
		done := make(chan writeResult, 1)
		go func() {
			n, err := o.w.Write(b)
			done <- writeResult{n, err}
		}()
		select {
		case r := <-done:
			written += r.n
			if r.err != nil {
				return written, r.err
			}
			if r.n < len(b) {
				return written, io.ErrShortWrite
			}
			p = p[len(b):]
		case <-o.waits.guest.Done():
			o.buf = nil // the write may still read it
			wasiio.Abort(o.waits.guest, o.waits.guest.Err())
		case <-callDone:
			o.buf = nil
			wasiio.Abort(call, call.Err())
		}
	}
	return written, nil
}
