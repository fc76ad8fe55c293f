//go:build wasip1

package cabi

import "unsafe"

// Ptr turns a guest linear-memory address written by the host into a Go
// pointer. The address must come from cabi_realloc or from Go memory.
func Ptr(addr uint32) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(nil), uintptr(addr))
}
