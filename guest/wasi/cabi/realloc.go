//go:build wasip1

package cabi

import "unsafe"

// pinned holds every block cabi_realloc handed out since the last Unpin.
var pinned []unsafe.Pointer

// target is the buffer offered by ReadInto for the next allocation.
var target []byte

// zero is the address returned for zero-sized allocations.
var zero uint64

// ReadInto offers b as the destination of the next allocation of at most
// len(b) bytes with alignment 1 (a list<u8> result). It stays offered until
// used or until [Unpin].
func ReadInto(b []byte) { target = b }

// Unpin releases the blocks allocated during the last import and withdraws a
// buffer offered by [ReadInto]. Call it once the results are Go values.
func Unpin() {
	clear(pinned)
	pinned = pinned[:0]
	target = nil
}

// realloc implements cabi_realloc: (original-ptr, original-size, alignment,
// new-size) -> ptr, as the Canonical ABI calls it to allocate (original 0, 0)
// or to grow a block.
//
// See https://github.com/WebAssembly/component-model/blob/main/design/mvp/CanonicalABI.md
//
//go:wasmexport cabi_realloc
func realloc(ptr unsafe.Pointer, oldSize, align, newSize uint32) unsafe.Pointer {
	if newSize == 0 {
		return unsafe.Pointer(&zero)
	}
	if oldSize == 0 && align == 1 && target != nil && int(newSize) <= len(target) {
		p := unsafe.Pointer(unsafe.SliceData(target[:1]))
		target = nil
		return p
	}
	if newSize <= oldSize {
		return ptr
	}
	p := alloc(newSize, align)
	if oldSize > 0 {
		copy(unsafe.Slice((*byte)(p), newSize), unsafe.Slice((*byte)(ptr), oldSize))
	}
	pinned = append(pinned, p)
	return p
}

// alloc returns a zeroed heap block of size bytes aligned to align (at most
// 8; larger alignments do not occur in WASI 0.2 types on wasm32).
func alloc(size, align uint32) unsafe.Pointer {
	if align <= 1 {
		return unsafe.Pointer(unsafe.SliceData(make([]byte, size)))
	}
	n := (size + 7) / 8
	return unsafe.Pointer(unsafe.SliceData(make([]uint64, n)))
}
