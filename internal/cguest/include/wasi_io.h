// wasi_io.h: wasi:io@0.2.8 (poll, error, streams) and the one function of
// wasi:clocks/monotonic-clock the guests wait with. See import.h.
//
// A stream-error (in ret after a failed stream call, @4): its case u8 @4,
// 0 last-operation-failed with the error's handle @8, 1 closed.
#ifndef WASITLS_WASI_IO_H
#define WASITLS_WASI_IO_H

#include "import.h"

#define WASI_IO(i) "wasi:io/" i WASI_VERSION

// ---- wasi:io/poll ----

// [method]pollable.block: func()
IMPORT(WASI_IO("poll"), "[method]pollable.block")
void pollable_block(uint32_t self);
IMPORT(WASI_IO("poll"), "[resource-drop]pollable")
void pollable_drop(uint32_t self);
// poll: func(in: list<borrow<pollable>>) -> list<u32>
// ret: the indexes of the ready pollables, ptr @0, len @4.
IMPORT(WASI_IO("poll"), "poll")
void poll_list(const uint32_t *pollables, uint32_t n, void *ret);

// ---- wasi:io/error ----

// [method]error.to-debug-string: func() -> string
// ret: ptr @0, len @4.
IMPORT(WASI_IO("error"), "[method]error.to-debug-string")
void error_to_debug_string(uint32_t self, void *ret);
IMPORT(WASI_IO("error"), "[resource-drop]error")
void error_drop(uint32_t self);

// ---- wasi:io/streams ----

// [method]input-stream.read: func(len: u64) -> result<list<u8>, stream-error>
// ret: the list ptr @4, len @8, or the stream-error.
IMPORT(WASI_IO("streams"), "[method]input-stream.read")
void input_read(uint32_t self, uint64_t len, void *ret);
// [method]input-stream.blocking-read: func(len: u64) -> result<list<u8>, stream-error>
// ret: as input-stream.read.
IMPORT(WASI_IO("streams"), "[method]input-stream.blocking-read")
void input_blocking_read(uint32_t self, uint64_t len, void *ret);
// [method]input-stream.subscribe: func() -> pollable
IMPORT(WASI_IO("streams"), "[method]input-stream.subscribe")
uint32_t input_subscribe(uint32_t self);
IMPORT(WASI_IO("streams"), "[resource-drop]input-stream")
void input_drop(uint32_t self);

// [method]output-stream.blocking-write-and-flush: func(contents: list<u8>) -> result<_, stream-error>
// ret: the stream-error.
IMPORT(WASI_IO("streams"), "[method]output-stream.blocking-write-and-flush")
void output_blocking_write_and_flush(uint32_t self, const void *p, uint32_t n, void *ret);
// [method]output-stream.subscribe: func() -> pollable
IMPORT(WASI_IO("streams"), "[method]output-stream.subscribe")
uint32_t output_subscribe(uint32_t self);
IMPORT(WASI_IO("streams"), "[resource-drop]output-stream")
void output_drop(uint32_t self);

// ---- wasi:clocks/monotonic-clock ----

// subscribe-duration: func(when: duration) -> pollable (duration: u64 ns)
IMPORT("wasi:clocks/monotonic-clock" WASI_VERSION, "subscribe-duration")
uint32_t subscribe_duration(uint64_t ns);

#endif
