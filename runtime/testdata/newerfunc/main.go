// Command newerfunc imports, at a patch version newer than the host's
// bindings, a function the host does not implement (an imaginary addition
// to wasi:clocks/wall-clock), one it does, and one with the wrong core
// signature.
package main

import "unsafe"

//go:wasmimport wasi:clocks/wall-clock@0.2.12 now
func now(ret unsafe.Pointer)

//go:wasmimport wasi:clocks/wall-clock@0.2.12 now-with-leap-seconds
func nowLeap(ret unsafe.Pointer)

//go:wasmimport wasi:clocks/monotonic-clock@0.2.9 now
func monotonic(x uint32) uint64

//go:wasmimport wasi:clocks/monotonic-clock@0.3.0 resolution
func resolution() uint64

var ret [2]uint64

func main() {
	now(unsafe.Pointer(&ret[0]))
	nowLeap(unsafe.Pointer(&ret[0]))
	monotonic(1)
	resolution()
}
