//go:build wasip1 && !norealloc

package main

// cabi_realloc allocates on the Go heap; the memory stays referenced.
//
//go:wasmexport cabi_realloc
func cabiRealloc(oldPtr, oldSize, align, newSize uint32) uint32 {
	reallocs++
	if reenter != 0 {
		peekCounter(reenter) // a host call from within cabi_realloc
	}
	if badRealloc {
		return 0xFFFFFFF0
	}
	if newSize == 0 {
		return align
	}
	return alloc(newSize, align)
}
