//go:build wasip1

package io

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/guest/wasi/cabi"
)

// Pollable is the resource wasi:io/poll.pollable: readiness of an I/O event.
// Ready reports whether it is ready without blocking, Block blocks the whole
// guest until it is, Drop drops the handle.
type Pollable = poll.Pollable

// Poll waits until at least one of in is ready and returns the indexes of the
// ready ones. The returned slice is fresh Go memory.
//
//	poll: func(in: list<borrow<pollable>>) -> list<u32>;
func Poll(in []Pollable) []uint32 { return poll.Poll(borrows(in)) }

// PollInto is Poll appending the indexes of the ready pollables to ready,
// which it returns: a caller that passes the previous result back (as
// ready[:0]) polls without allocating, the host writing the indexes
// straight into ready's spare capacity.
func PollInto(in []Pollable, ready []uint32) []uint32 {
	spare := ready[len(ready):cap(ready)]
	if len(spare) > 0 {
		cabi.Offer(unsafe.Pointer(unsafe.SliceData(spare)), uint32(len(spare))*4)
	}
	got := poll.Poll(borrows(in))
	if len(got) > 0 && unsafe.SliceData(got) == unsafe.SliceData(spare) {
		return ready[:len(ready)+len(got)] // the host wrote them in place
	}
	return append(ready, got...)
}

// borrows lends the handles of in for a call: the owned and borrowed handle
// types share their representation.
func borrows(in []Pollable) []poll.PollableBorrow {
	return unsafe.Slice((*poll.PollableBorrow)(unsafe.SliceData(in)), len(in))
}
