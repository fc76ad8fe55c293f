// Command patchversions imports WASI at three patch versions at once, one
// older than the host's bindings, theirs and one newer, and passes handles
// between them: stdout from wasi:cli@0.2.12, writes through streams@0.2.0,
// @0.2.8 and @0.2.12, subscribes with @0.2.12, blocks with poll@0.2.0 and
// drops the pollable with poll@0.2.12 and the stream with streams@0.2.8.
package main

import (
	"unsafe"
)

//go:wasmimport wasi:cli/stdout@0.2.12 get-stdout
func getStdout() uint32

//go:wasmimport wasi:io/streams@0.2.0 [method]output-stream.blocking-write-and-flush
func writeV0(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.blocking-write-and-flush
func writeV8(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.12 [method]output-stream.blocking-write-and-flush
func writeV12(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.12 [method]output-stream.subscribe
func subscribeV12(self uint32) uint32

//go:wasmimport wasi:io/poll@0.2.0 [method]pollable.block
func blockV0(self uint32)

//go:wasmimport wasi:io/poll@0.2.12 [resource-drop]pollable
func dropPollableV12(self uint32)

//go:wasmimport wasi:io/streams@0.2.8 [resource-drop]output-stream
func dropOutputV8(self uint32)

//go:wasmimport wasi:clocks/wall-clock@0.2.12 now
func nowV12(ret unsafe.Pointer)

//go:wasmimport wasi:cli/exit@0.2.12 exit
func exit(status uint32)

var ret [4]uint64

func write(w func(uint32, unsafe.Pointer, uint32, unsafe.Pointer), out uint32, s string) {
	b := []byte(s)
	w(out, unsafe.Pointer(&b[0]), uint32(len(b)), unsafe.Pointer(&ret[0]))
	if *(*byte)(unsafe.Pointer(&ret[0])) != 0 {
		exit(0) // result::ok: exit code 0, which the test rejects
	}
}

func main() {
	out := getStdout()
	write(writeV0, out, "0.2.0\n")
	write(writeV8, out, "0.2.8\n")
	p := subscribeV12(out)
	blockV0(p)
	dropPollableV12(p)
	nowV12(unsafe.Pointer(&ret[0]))
	if ret[0] > 1_700_000_000 {
		write(writeV12, out, "0.2.12 clock\n")
	}
	dropOutputV8(out)
	exit(1) // result::err: exit code 1, the signal the test looks for
}
