// Command norealloc imports wasi:io/poll's poll, which returns a list, but
// exports no cabi_realloc.
package main

import "unsafe"

//go:wasmimport wasi:io/poll@0.2.8 poll
func poll(list unsafe.Pointer, n uint32, ret unsafe.Pointer)

var ret [2]uint32

func main() {
	poll(nil, 0, unsafe.Pointer(&ret[0]))
}
