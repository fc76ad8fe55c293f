//go:build wasip1

package main

import (
	"encoding/binary"
	"unsafe"
)

// Every buffer handed to the host lives on the heap and stays referenced
// from keep: a pointer into a goroutine stack could move when the host
// calls cabi_realloc during an import.
var keep [][]byte

// alloc returns the address of n zeroed heap bytes aligned to align.
func alloc(n, align uint32) uint32 {
	b := make([]byte, n+align)
	keep = append(keep, b)
	p := uint32(uintptr(unsafe.Pointer(&b[0])))
	return (p + align - 1) &^ (align - 1)
}

// ret returns a fresh return area of n bytes aligned to 8, pre-filled with
// a marker so that stray or missing writes show.
func ret(n uint32) uint32 {
	p := alloc(n, 8)
	b := mem(p, n)
	for i := range b {
		b[i] = 0xAA
	}
	return p
}

var reallocs int

// reenter, when set, makes cabi_realloc call peek-counter on it.
var reenter uint32

// badRealloc makes cabi_realloc return an out-of-bounds pointer.
var badRealloc bool

// ptr turns a linear-memory address into a Go pointer; the memory there is
// kept reachable by its owner (a block alloc keeps, or the host's).
func ptr(p uint32) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), uintptr(p)) }

func mem(p, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(ptr(p)), n)
}

// str copies s to the heap and returns its address and length.
func str(s string) (uint32, uint32) {
	if len(s) == 0 {
		return 0, 0
	}
	p := alloc(uint32(len(s)), 1)
	copy(mem(p, uint32(len(s))), s)
	return p, uint32(len(s))
}

func getString(p uint32) string { return string(mem(u32(p), u32(p+4))) }

func u8(p uint32) uint8   { return mem(p, 1)[0] }
func u16(p uint32) uint16 { return binary.LittleEndian.Uint16(mem(p, 2)) }
func u32(p uint32) uint32 { return binary.LittleEndian.Uint32(mem(p, 4)) }
func u64(p uint32) uint64 { return binary.LittleEndian.Uint64(mem(p, 8)) }

func put8(p uint32, v uint8)   { mem(p, 1)[0] = v }
func put16(p uint32, v uint16) { binary.LittleEndian.PutUint16(mem(p, 2), v) }
func put32(p uint32, v uint32) { binary.LittleEndian.PutUint32(mem(p, 4), v) }
func put64(p uint32, v uint64) { binary.LittleEndian.PutUint64(mem(p, 8), v) }

func putString(p uint32, s string) {
	sp, sn := str(s)
	put32(p, sp)
	put32(p+4, sn)
}
