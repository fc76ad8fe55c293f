package backends_test

import (
	"testing"
	"unsafe"

	"github.com/wasitls/wasitls/backends"
)

// TestHeapBytesKinds: HeapBytes ends on values that reach themselves
// (through pointers, interfaces, slices and maps), counts each allocation
// once however often it is reached, and takes functions, channels, unsafe
// pointers and nil values of every kind without failing, adding nothing
// for them.
func TestHeapBytesKinds(t *testing.T) {
	type node struct {
		next *node
		any  any
		m    map[int]*node
		s    []*node
		f    func()
		c    chan int
		u    unsafe.Pointer
	}
	size := int64(unsafe.Sizeof(node{})) // 80: a size class of its own
	a, b := &node{}, &node{}
	a.next, b.next = b, a
	a.any, b.any = a, b
	a.s = []*node{a, b, a}
	b.s = a.s[1:]
	a.m = map[int]*node{1: a, 2: b}
	b.m = a.m
	a.f, a.c, a.u = func() {}, make(chan int), unsafe.Pointer(b)
	// Two nodes, the slice's array of 3 pointers, the map: whatever the
	// map's share, the nodes and the array count once.
	n := backends.HeapBytes(a)
	if mapless := 2*size + 24; n <= mapless || n > mapless+1024 {
		t.Errorf("HeapBytes of two nodes reaching each other: %d, want the nodes and the array (%d) and the map", n, mapless)
	}
	if m := backends.HeapBytes(b); m != n {
		t.Errorf("HeapBytes from either node of a cycle: %d and %d, want the same", n, m)
	}
	self := make([]any, 1)
	self[0] = self
	if n := backends.HeapBytes(self); n != 24+16+24 {
		t.Errorf("HeapBytes of a slice holding itself: %d, want its header boxed twice and its array (64)", n)
	}
	// What the elements of a slice reach counts though a shorter slice of
	// its array, or a pointer to its first element, was met first.
	arrays := []*[1000]byte{new([1000]byte), new([1000]byte)}
	for _, v := range []any{
		struct{ short, long []*[1000]byte }{arrays[:1], arrays},
		struct {
			first **[1000]byte
			all   []*[1000]byte
		}{&arrays[0], arrays},
	} {
		if n := backends.HeapBytes(v); n < 2*1136 {
			t.Errorf("HeapBytes of %T: %d, want both arrays of 1,000 bytes (1,136 each)", v, n)
		}
	}
	for _, v := range []any{nil, (*node)(nil), node{}, []int(nil), map[int]int(nil), (func())(nil), (chan int)(nil), unsafe.Pointer(nil), [0]*node{}, struct{}{}, &struct{}{}} {
		if n := backends.HeapBytes(v); n < 0 || n > 128 {
			t.Errorf("HeapBytes(%T zero) = %d", v, n)
		}
	}
}
