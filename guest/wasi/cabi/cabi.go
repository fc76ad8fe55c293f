//go:build wasip1

package cabi

import (
	"unsafe"
)

// RetArea is the static return area every binding passes as its retptr. It is
// 8-byte aligned and large enough for the largest result of the bindings.
var RetArea [RetAreaWords]uint64

// RetAreaWords is the size of [RetArea] in 8-byte words.
const RetAreaWords = 8

// Ret returns the address of the return area.
func Ret() unsafe.Pointer { return unsafe.Pointer(&RetArea) }

// Ptr turns a guest linear-memory address written by the host into a Go
// pointer. The address must come from cabi_realloc or from Go memory.
func Ptr(addr uint32) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(nil), uintptr(addr))
}

// Bytes returns the list<u8> at (addr, n) as a Go slice. The slice refers to
// the block cabi_realloc allocated: no copy is made, so it is valid only
// until [Unpin]; copy what is kept.
func Bytes(addr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(Ptr(addr)), n)
}

// String returns the string at (addr, n) without copying.
func String(addr, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String((*byte)(Ptr(addr)), n)
}

// Uint32s returns the list<u32> (or list of handles) at (addr, n).
func Uint32s(addr, n uint32) []uint32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(Ptr(addr)), n)
}

// Uint16s returns the list<u16> at (addr, n).
func Uint16s(addr, n uint32) []uint16 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(Ptr(addr)), n)
}

// ListHeader is the memory form of a list or string: address and length.
type ListHeader struct {
	Ptr uint32
	Len uint32
}

// Lists returns the list<list<T>> (or list<string>) at (addr, n) as its
// element headers.
func Lists(addr, n uint32) []ListHeader {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*ListHeader)(Ptr(addr)), n)
}

// BytesList copies a returned list<list<u8>> into Go memory.
func BytesList(addr, n uint32) [][]byte {
	hs := Lists(addr, n)
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = append([]byte{}, Bytes(h.Ptr, h.Len)...)
	}
	return out
}

// SliceAddr returns the address of b's first element, or 0 for an empty
// slice, for passing a list<u8> argument.
func SliceAddr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

// StringAddr returns the address of s's bytes, or nil for "".
func StringAddr(s string) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}

// LowerBytesList builds the argument form of a list<list<u8>>: a heap array
// of headers pointing into the elements. The caller keeps both the result and
// the elements alive across the import.
func LowerBytesList(elems [][]byte) []ListHeader {
	if len(elems) == 0 {
		return nil
	}
	hs := make([]ListHeader, len(elems))
	for i, e := range elems {
		hs[i] = ListHeader{Ptr: addr(SliceAddr(e)), Len: uint32(len(e))}
	}
	return hs
}

// HeadersAddr returns the address of the first header, or nil.
func HeadersAddr(hs []ListHeader) unsafe.Pointer {
	if len(hs) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(hs))
}

// Uint32sAddr returns the address of the first element, or nil.
func Uint32sAddr(v []uint32) unsafe.Pointer {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(v))
}

// Uint16sAddr returns the address of the first element, or nil.
func Uint16sAddr(v []uint16) unsafe.Pointer {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(v))
}

func addr(p unsafe.Pointer) uint32 { return uint32(uintptr(p)) }
