//go:build wasip1

package io

import (
	"runtime"
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/guest/wasi/cabi"
)

// StreamError is the variant wasi:io/streams.stream-error. A nil error means
// success; otherwise exactly one case holds:
//
//   - Closed: the stream is closed; no more data will be transferred.
//   - LastOperationFailed: the last operation (and so the stream) failed; the
//     owned Error handle describes it. Drop it when done ([StreamError.Drop]).
type StreamError struct {
	Closed              bool
	LastOperationFailed Error
}

// Error implements error, fetching the host's description of a failure.
func (e *StreamError) Error() string {
	if e.Closed {
		return "wasi:io/streams: closed"
	}
	return "wasi:io/streams: " + e.LastOperationFailed.ToDebugString()
}

// Drop drops the Error handle of a failure; it does nothing for Closed.
func (e *StreamError) Drop() {
	if !e.Closed && e.LastOperationFailed != 0 {
		e.LastOperationFailed.Drop()
		e.LastOperationFailed = 0
	}
}

// streamError turns the generated bindings' stream-error into a
// *StreamError.
func streamError(err error) error {
	se, ok := err.(streams.StreamError)
	if !ok {
		return err
	}
	if se.Tag == streams.StreamErrorTagClosed {
		return &StreamError{Closed: true}
	}
	return &StreamError{LastOperationFailed: se.LastOperationFailed}
}

// streamErrors converts a generated call's error, indexed by failed: the
// output-stream methods a writer calls per write (CheckWrite, Write, Flush)
// pick the conversion from it instead of testing the error, so that they
// have no branch. With wazero's termination checks a Go function with a
// branch costs a call out of the guest each time it runs, about what the
// host call itself costs (docs/wit2host.md, Guest side).
var streamErrors = [2]func(error) error{func(error) error { return nil }, streamError}

// failed is 1 when err is not nil, else 0, without a branch.
func failed(err error) uint8 {
	b := err != nil
	return *(*uint8)(unsafe.Pointer(&b)) & 1
}

// InputStream is the resource wasi:io/streams.input-stream.
type InputStream uint32

func (s InputStream) b() streams.InputStreamBorrow { return streams.InputStreamBorrow(s) }

// Read reads up to n bytes without blocking; an empty result means no data is
// available now (wait on [InputStream.Subscribe]).
//
//	read: func(len: u64) -> result<list<u8>, stream-error>;
func (s InputStream) Read(n uint64) ([]byte, error) {
	b, err := s.b().Read(n)
	return b, streamError(err)
}

// ReadInto is Read into buf: the host writes straight into buf when it can
// (through cabi_realloc), so no extra copy is made. It returns the number of
// bytes read.
func (s InputStream) ReadInto(buf []byte) (int, error) {
	if len(buf) == 0 {
		_, err := s.Read(0)
		return 0, err
	}
	cabi.ReadInto(buf)
	b, err := s.b().Read(uint64(len(buf)))
	if err != nil {
		return 0, streamError(err)
	}
	n := len(b)
	if n > 0 && unsafe.SliceData(b) != unsafe.SliceData(buf) {
		n = copy(buf, b)
	}
	runtime.KeepAlive(buf)
	return n, nil
}

// BlockingRead is Read, blocking the whole guest until data is available.
//
//	blocking-read: func(len: u64) -> result<list<u8>, stream-error>;
func (s InputStream) BlockingRead(n uint64) ([]byte, error) {
	b, err := s.b().BlockingRead(n)
	return b, streamError(err)
}

// Skip skips up to n bytes without blocking and returns how many it skipped.
//
//	skip: func(len: u64) -> result<u64, stream-error>;
func (s InputStream) Skip(n uint64) (uint64, error) {
	k, err := s.b().Skip(n)
	return k, streamError(err)
}

// BlockingSkip is Skip, blocking until at least one byte can be skipped.
//
//	blocking-skip: func(len: u64) -> result<u64, stream-error>;
func (s InputStream) BlockingSkip(n uint64) (uint64, error) {
	k, err := s.b().BlockingSkip(n)
	return k, streamError(err)
}

// Subscribe returns a pollable, a child of s, ready when data is available or
// the stream is closed or failed.
//
//	subscribe: func() -> pollable;
func (s InputStream) Subscribe() Pollable { return s.b().Subscribe() }

// Drop drops the handle. Child pollables must be dropped first.
func (s InputStream) Drop() { streams.InputStream(s).Drop() }

// OutputStream is the resource wasi:io/streams.output-stream.
type OutputStream uint32

func (s OutputStream) b() streams.OutputStreamBorrow { return streams.OutputStreamBorrow(s) }

// CheckWrite returns how many bytes may be written now without blocking.
//
//	check-write: func() -> result<u64, stream-error>;
func (s OutputStream) CheckWrite() (uint64, error) {
	n, err := s.b().CheckWrite()
	return n, streamErrors[failed(err)](err)
}

// Write writes b, which must not exceed the last CheckWrite budget.
//
//	write: func(contents: list<u8>) -> result<_, stream-error>;
func (s OutputStream) Write(b []byte) error {
	err := s.b().Write(b)
	return streamErrors[failed(err)](err)
}

// BlockingWriteAndFlush writes at most 4096 bytes and flushes, blocking the
// whole guest.
//
//	blocking-write-and-flush: func(contents: list<u8>) -> result<_, stream-error>;
func (s OutputStream) BlockingWriteAndFlush(b []byte) error {
	return streamError(s.b().BlockingWriteAndFlush(b))
}

// Flush requests a flush of what was written; CheckWrite reports 0 until it
// completes.
//
//	flush: func() -> result<_, stream-error>;
func (s OutputStream) Flush() error {
	err := s.b().Flush()
	return streamErrors[failed(err)](err)
}

// BlockingFlush flushes, blocking the whole guest until done.
//
//	blocking-flush: func() -> result<_, stream-error>;
func (s OutputStream) BlockingFlush() error { return streamError(s.b().BlockingFlush()) }

// Subscribe returns a pollable, a child of s, ready when CheckWrite would
// report a nonzero budget or an error.
//
//	subscribe: func() -> pollable;
func (s OutputStream) Subscribe() Pollable { return s.b().Subscribe() }

// WriteZeroes writes n zero bytes, within the CheckWrite budget.
//
//	write-zeroes: func(len: u64) -> result<_, stream-error>;
func (s OutputStream) WriteZeroes(n uint64) error { return streamError(s.b().WriteZeroes(n)) }

// BlockingWriteZeroesAndFlush writes n zero bytes and flushes, blocking.
//
//	blocking-write-zeroes-and-flush: func(len: u64) -> result<_, stream-error>;
func (s OutputStream) BlockingWriteZeroesAndFlush(n uint64) error {
	return streamError(s.b().BlockingWriteZeroesAndFlush(n))
}

// Splice moves up to n bytes from src to s without blocking.
//
//	splice: func(src: borrow<input-stream>, len: u64) -> result<u64, stream-error>;
func (s OutputStream) Splice(src InputStream, n uint64) (uint64, error) {
	k, err := s.b().Splice(src.b(), n)
	return k, streamError(err)
}

// BlockingSplice is Splice, blocking until at least one byte moved.
//
//	blocking-splice: func(src: borrow<input-stream>, len: u64) -> result<u64, stream-error>;
func (s OutputStream) BlockingSplice(src InputStream, n uint64) (uint64, error) {
	k, err := s.b().BlockingSplice(src.b(), n)
	return k, streamError(err)
}

// Drop drops the handle. Child pollables must be dropped first.
func (s OutputStream) Drop() { streams.OutputStream(s).Drop() }
