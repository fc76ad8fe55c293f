//go:build wasip1

package io

import (
	"runtime"
	"unsafe"

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

func liftStreamError(p unsafe.Pointer) error {
	m := (*streamErrorMem)(p)
	if m.Tag == 1 {
		return &StreamError{Closed: true}
	}
	return &StreamError{LastOperationFailed: Error(m.Handle)}
}

func liftUnit() error {
	r := *(*resultUnitStreamError)(cabi.Ret())
	if r.IsErr == 0 {
		return nil
	}
	return liftStreamError(unsafe.Pointer(&r.Payload))
}

func liftU64() (uint64, error) {
	r := *(*resultU64StreamError)(cabi.Ret())
	if r.IsErr == 0 {
		return r.Payload, nil
	}
	return 0, liftStreamError(unsafe.Pointer(&r.Payload))
}

// InputStream is the resource wasi:io/streams.input-stream.
type InputStream uint32

// Read reads up to n bytes without blocking; an empty result means no data is
// available now (wait on [InputStream.Subscribe]).
//
//	read: func(len: u64) -> result<list<u8>, stream-error>;
func (s InputStream) Read(n uint64) ([]byte, error) {
	inputStreamRead(uint32(s), n, cabi.Ret())
	return liftList()
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
	inputStreamRead(uint32(s), uint64(len(buf)), cabi.Ret())
	r := *(*resultListStreamError)(cabi.Ret())
	if r.IsErr != 0 {
		cabi.Unpin()
		return 0, liftStreamError(unsafe.Pointer(&r.Payload))
	}
	b := cabi.Bytes(r.Payload[0], r.Payload[1])
	n := 0
	if len(b) > 0 && unsafe.SliceData(b) != unsafe.SliceData(buf[:1]) {
		n = copy(buf, b)
	} else {
		n = len(b)
	}
	cabi.Unpin()
	runtime.KeepAlive(buf)
	return n, nil
}

// BlockingRead is Read, blocking the whole guest until data is available.
//
//	blocking-read: func(len: u64) -> result<list<u8>, stream-error>;
func (s InputStream) BlockingRead(n uint64) ([]byte, error) {
	inputStreamBlockingRead(uint32(s), n, cabi.Ret())
	return liftList()
}

func liftList() ([]byte, error) {
	r := *(*resultListStreamError)(cabi.Ret())
	if r.IsErr != 0 {
		cabi.Unpin()
		return nil, liftStreamError(unsafe.Pointer(&r.Payload))
	}
	b := append([]byte{}, cabi.Bytes(r.Payload[0], r.Payload[1])...) // the block is reused after Unpin
	cabi.Unpin()
	return b, nil
}

// Skip skips up to n bytes without blocking and returns how many it skipped.
//
//	skip: func(len: u64) -> result<u64, stream-error>;
func (s InputStream) Skip(n uint64) (uint64, error) {
	inputStreamSkip(uint32(s), n, cabi.Ret())
	return liftU64()
}

// BlockingSkip is Skip, blocking until at least one byte can be skipped.
//
//	blocking-skip: func(len: u64) -> result<u64, stream-error>;
func (s InputStream) BlockingSkip(n uint64) (uint64, error) {
	inputStreamBlockingSkip(uint32(s), n, cabi.Ret())
	return liftU64()
}

// Subscribe returns a pollable, a child of s, ready when data is available or
// the stream is closed or failed.
//
//	subscribe: func() -> pollable;
func (s InputStream) Subscribe() Pollable { return Pollable(inputStreamSubscribe(uint32(s))) }

// Drop drops the handle. Child pollables must be dropped first.
func (s InputStream) Drop() { inputStreamDrop(uint32(s)) }

// OutputStream is the resource wasi:io/streams.output-stream.
type OutputStream uint32

// CheckWrite returns how many bytes may be written now without blocking.
//
//	check-write: func() -> result<u64, stream-error>;
func (s OutputStream) CheckWrite() (uint64, error) {
	outputStreamCheckWrite(uint32(s), cabi.Ret())
	return liftU64()
}

// Write writes b, which must not exceed the last CheckWrite budget.
//
//	write: func(contents: list<u8>) -> result<_, stream-error>;
func (s OutputStream) Write(b []byte) error {
	outputStreamWrite(uint32(s), cabi.SliceAddr(b), uint32(len(b)), cabi.Ret())
	runtime.KeepAlive(b)
	return liftUnit()
}

// BlockingWriteAndFlush writes at most 4096 bytes and flushes, blocking the
// whole guest.
//
//	blocking-write-and-flush: func(contents: list<u8>) -> result<_, stream-error>;
func (s OutputStream) BlockingWriteAndFlush(b []byte) error {
	outputStreamBlockingWriteAndFlush(uint32(s), cabi.SliceAddr(b), uint32(len(b)), cabi.Ret())
	runtime.KeepAlive(b)
	return liftUnit()
}

// Flush requests a flush of what was written; CheckWrite reports 0 until it
// completes.
//
//	flush: func() -> result<_, stream-error>;
func (s OutputStream) Flush() error {
	outputStreamFlush(uint32(s), cabi.Ret())
	return liftUnit()
}

// BlockingFlush flushes, blocking the whole guest until done.
//
//	blocking-flush: func() -> result<_, stream-error>;
func (s OutputStream) BlockingFlush() error {
	outputStreamBlockingFlush(uint32(s), cabi.Ret())
	return liftUnit()
}

// Subscribe returns a pollable, a child of s, ready when CheckWrite would
// report a nonzero budget or an error.
//
//	subscribe: func() -> pollable;
func (s OutputStream) Subscribe() Pollable { return Pollable(outputStreamSubscribe(uint32(s))) }

// WriteZeroes writes n zero bytes, within the CheckWrite budget.
//
//	write-zeroes: func(len: u64) -> result<_, stream-error>;
func (s OutputStream) WriteZeroes(n uint64) error {
	outputStreamWriteZeroes(uint32(s), n, cabi.Ret())
	return liftUnit()
}

// BlockingWriteZeroesAndFlush writes n zero bytes and flushes, blocking.
//
//	blocking-write-zeroes-and-flush: func(len: u64) -> result<_, stream-error>;
func (s OutputStream) BlockingWriteZeroesAndFlush(n uint64) error {
	outputStreamBlockingWriteZeroesAndFlush(uint32(s), n, cabi.Ret())
	return liftUnit()
}

// Splice moves up to n bytes from src to s without blocking.
//
//	splice: func(src: borrow<input-stream>, len: u64) -> result<u64, stream-error>;
func (s OutputStream) Splice(src InputStream, n uint64) (uint64, error) {
	outputStreamSplice(uint32(s), uint32(src), n, cabi.Ret())
	return liftU64()
}

// BlockingSplice is Splice, blocking until at least one byte moved.
//
//	blocking-splice: func(src: borrow<input-stream>, len: u64) -> result<u64, stream-error>;
func (s OutputStream) BlockingSplice(src InputStream, n uint64) (uint64, error) {
	outputStreamBlockingSplice(uint32(s), uint32(src), n, cabi.Ret())
	return liftU64()
}

// Drop drops the handle. Child pollables must be dropped first.
func (s OutputStream) Drop() { outputStreamDrop(uint32(s)) }

//go:wasmimport wasi:io/streams@0.2.8 [method]input-stream.read
func inputStreamRead(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]input-stream.blocking-read
func inputStreamBlockingRead(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]input-stream.skip
func inputStreamSkip(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]input-stream.blocking-skip
func inputStreamBlockingSkip(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]input-stream.subscribe
func inputStreamSubscribe(self uint32) uint32

//go:wasmimport wasi:io/streams@0.2.8 [resource-drop]input-stream
func inputStreamDrop(self uint32)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.check-write
func outputStreamCheckWrite(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.write
func outputStreamWrite(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.blocking-write-and-flush
func outputStreamBlockingWriteAndFlush(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.flush
func outputStreamFlush(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.blocking-flush
func outputStreamBlockingFlush(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.subscribe
func outputStreamSubscribe(self uint32) uint32

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.write-zeroes
func outputStreamWriteZeroes(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.blocking-write-zeroes-and-flush
func outputStreamBlockingWriteZeroesAndFlush(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.splice
func outputStreamSplice(self uint32, src uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.blocking-splice
func outputStreamBlockingSplice(self uint32, src uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [resource-drop]output-stream
func outputStreamDrop(self uint32)
