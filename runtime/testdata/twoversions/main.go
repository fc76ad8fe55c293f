// Command twoversions passes handles between two minor versions of
// wasi:io, as real guests linked from several libraries do: it gets stdout
// from wasi:cli@0.2.0, writes with streams@0.2.8, subscribes with
// streams@0.2.0, blocks with poll@0.2.3, drops the pollable with
// poll@0.2.8 and the stream with streams@0.2.0.
package main

import (
	"unsafe"
)

//go:wasmimport wasi:cli/stdout@0.2.0 get-stdout
func getStdout() uint32

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.blocking-write-and-flush
func writeV8(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.0 [method]output-stream.blocking-write-and-flush
func writeV0(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.0 [method]output-stream.subscribe
func subscribeV0(self uint32) uint32

//go:wasmimport wasi:io/poll@0.2.3 [method]pollable.block
func blockV3(self uint32)

//go:wasmimport wasi:io/poll@0.2.8 [resource-drop]pollable
func dropPollableV8(self uint32)

//go:wasmimport wasi:io/streams@0.2.0 [resource-drop]output-stream
func dropOutputV0(self uint32)

//go:wasmimport wasi:cli/exit@0.2.0 exit
func exit(status uint32)

var (
	ret  [4]uint64
	msg1 = []byte("from 0.2.8\n")
	msg2 = []byte("from 0.2.0\n")
)

func main() {
	out := getStdout()
	writeV8(out, unsafe.Pointer(&msg1[0]), uint32(len(msg1)), unsafe.Pointer(&ret[0]))
	if *(*byte)(unsafe.Pointer(&ret[0])) != 0 {
		exit(1)
	}
	p := subscribeV0(out)
	blockV3(p)
	dropPollableV8(p)
	writeV0(out, unsafe.Pointer(&msg2[0]), uint32(len(msg2)), unsafe.Pointer(&ret[0]))
	dropOutputV0(out)
	exit(1) // result::err: exit code 1, the signal the test looks for
}
