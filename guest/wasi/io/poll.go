//go:build wasip1

package io

import (
	"runtime"
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
)

// Pollable is the resource wasi:io/poll.pollable: readiness of an I/O event.
type Pollable uint32

// Ready reports whether the pollable is ready, without blocking.
//
//	ready: func() -> bool;
func (p Pollable) Ready() bool { return pollableReady(uint32(p)) != 0 }

// Block blocks the whole guest until the pollable is ready.
//
//	block: func();
func (p Pollable) Block() { pollableBlock(uint32(p)) }

// Drop drops the handle.
func (p Pollable) Drop() { pollableDrop(uint32(p)) }

// Poll waits until at least one of in is ready and returns the indexes of the
// ready ones. in must be heap memory: the host allocates the result through
// cabi_realloc while in is borrowed. The returned slice is fresh Go memory.
//
//	poll: func(in: list<borrow<pollable>>) -> list<u32>;
func Poll(in []Pollable) []uint32 { return PollInto(in, nil) }

// PollInto is Poll appending the indexes of the ready pollables to ready,
// which it returns: a caller that passes the previous result back (as
// ready[:0]) polls without allocating.
func PollInto(in []Pollable, ready []uint32) []uint32 {
	var p unsafe.Pointer
	if len(in) > 0 {
		p = unsafe.Pointer(unsafe.SliceData(in))
	}
	poll(p, uint32(len(in)), cabi.Ret())
	r := *(*listMem)(cabi.Ret())
	ready = append(ready, cabi.Uint32s(r.Ptr, r.Len)...) // the block is reused after Unpin
	cabi.Unpin()
	runtime.KeepAlive(in)
	return ready
}

//go:wasmimport wasi:io/poll@0.2.8 [method]pollable.ready
func pollableReady(self uint32) uint32

//go:wasmimport wasi:io/poll@0.2.8 [method]pollable.block
func pollableBlock(self uint32)

//go:wasmimport wasi:io/poll@0.2.8 [resource-drop]pollable
func pollableDrop(self uint32)

//go:wasmimport wasi:io/poll@0.2.8 poll
func poll(in unsafe.Pointer, n uint32, ret unsafe.Pointer)
