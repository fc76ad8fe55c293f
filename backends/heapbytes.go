package backends

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// Heap bytes.
//
// What a parsed value holds on the heap is not what its encoding took:
// crypto/x509 turns a 4-byte URI name of a certificate into a url.URL of
// some 150 bytes, a 9-byte extension into a pkix.Extension and its OID of
// some 100, and a 54-byte ML-DSA-87 private key (its seed) into expanded
// matrices of 110 KiB. A host that counts what a guest or a peer makes it
// hold by the bytes it was handed under-counts such shapes tens of times.
// HeapBytes measures the value itself instead: it walks what v reaches
// (pointers, slices, strings, interfaces, maps, struct fields exported or
// not) and adds up the allocations, each rounded up as the allocator
// rounds it (at most an eighth more), counting each
// allocation once. Bytes that lie within one of shared (the DER a parsed
// certificate keeps pieces of, counted by whoever holds it) add nothing.
// A value shared with the rest of the program (an elliptic curve's
// parameters, reached from every key on it) is counted too: over, never
// under. Functions, channels and unsafe pointers add nothing. The cost
// is one visit per allocation the value holds, which its parse made.

// HeapBytes returns the bytes of heap v holds, beside the bytes within
// shared (see above). v is typically a pointer; the value it points to
// counts.
func HeapBytes(v any, shared ...[]byte) int64 {
	w := heapWalk{shared: spansOf(shared), seen: make(map[uintptr]bool), ends: make(map[uintptr]uintptr), walked: make(map[uintptr]int)}
	return w.value(reflect.ValueOf(v), true)
}

// IdentityHeapBytes returns what id holds on the heap beside its chain
// (the bytes of its elements and the slice holding them): itself, its
// parsed leaf, its private key and its OCSP response. The key is walked
// only when its type is the standard library's, CIRCL's or one of this
// module's backends' (see ownKey), whose keys nothing changes once
// parsed; the key of an embedder's own backend may reach state that
// backend changes as it signs (a session pool, a cache), which a walk
// must not read while it does (a map written meanwhile stops the
// process), and counts nothing here.
func IdentityHeapBytes(id *Identity) int64 {
	var key any
	if ownKey(id.Key) {
		key = id.Key
	}
	return allocBytes(unsafe.Sizeof(*id)) + HeapBytes(struct {
		leaf any
		key  any
		ocsp []byte
	}{id.Leaf, key, id.OCSP}, id.Chain...)
}

// keyPackages are the packages whose private key types HeapBytes may
// walk: their keys are immutable once parsed.
var keyPackages = []string{"crypto/", "github.com/cloudflare/circl/", "github.com/wasitls/wasitls/backends/"}

// ownKey reports whether key's type (a pointer's element's) is declared
// in one of keyPackages.
func ownKey(key any) bool {
	t := reflect.TypeOf(key)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return false
	}
	pkg := t.PkgPath() + "/"
	for _, p := range keyPackages {
		if strings.HasPrefix(pkg, p) {
			return true
		}
	}
	return false
}

type heapWalk struct {
	shared []span // sorted by start, apart
	seen   map[uintptr]bool
	// ends are the slices' backing arrays met, by where they end: the
	// slices of one array (a certificate's Raw and its RawTBSCertificate,
	// its extensions' values) start apart but end together, their
	// capacity reaching the end of the array; the widest counts.
	ends map[uintptr]uintptr
	// walked are the slices' arrays whose elements were walked, by where
	// they start: how many elements. A slice longer than one met before
	// walks the rest; a pointer to its first element, met before, does
	// not stop it (before, either hid what the other elements reach).
	walked map[uintptr]int
}

// allocBytes is an allocation of n bytes as the allocator rounds it to
// its size classes (at most an eighth more, pages past 32 KiB).
func allocBytes(n uintptr) int64 {
	switch {
	case n == 0:
		return 0
	case n <= 8:
		return 8
	case n <= 32:
		return int64((n + 7) &^ 7)
	case n <= 128:
		return int64((n + 15) &^ 15)
	case n <= 32<<10:
		return int64((n + n/8 + 15) &^ 15)
	}
	return int64((n + 8191) &^ 8191)
}

// A span is the memory from start to end, not included.
type span struct{ start, end uintptr }

// spansOf returns the allocations of shared, each from the start of its
// bytes to the end of its capacity, sorted and merged where they overlap
// or meet: the certificates of a peer's chain, which crypto/tls parses
// from one message, make one span. isShared finds a pointer among them
// by a binary search (before, each string and slice of a chain of 2,048
// certificates was compared with all 2,048).
func spansOf(shared [][]byte) []span {
	var spans []span
	for _, b := range shared {
		if cap(b) > 0 {
			start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
			spans = append(spans, span{start, start + uintptr(cap(b))})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	merged := spans[:0]
	for _, s := range spans {
		if last := len(merged) - 1; last >= 0 && s.start <= merged[last].end {
			merged[last].end = max(merged[last].end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

// isShared reports whether the bytes at p lie in the allocation of one
// of the shared slices (a piece of a certificate's DER).
func (w *heapWalk) isShared(p uintptr) bool {
	i, _ := slices.BinarySearchFunc(w.shared, p, func(s span, p uintptr) int { return cmp.Compare(s.start, p+1) })
	return i > 0 && p < w.shared[i-1].end
}

// first reports whether the allocation at p is met for the first time.
func (w *heapWalk) first(p uintptr) bool {
	if p == 0 || w.seen[p] {
		return false
	}
	w.seen[p] = true
	return true
}

// value returns what v holds outside itself; boxed says v is an
// interface's dynamic value, stored in an allocation of its own unless it
// is a pointer.
func (w *heapWalk) value(v reflect.Value, boxed bool) int64 {
	if !v.IsValid() {
		return 0
	}
	var n int64
	if boxed && v.Kind() != reflect.Pointer && v.Type().Size() > 0 {
		n += allocBytes(v.Type().Size())
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || !w.first(v.Pointer()) {
			return n
		}
		e := v.Elem()
		return n + allocBytes(e.Type().Size()) + w.value(e, false)
	case reflect.Interface:
		if v.IsNil() {
			return n
		}
		return n + w.value(v.Elem(), true)
	case reflect.String:
		s := v.String()
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		if len(s) == 0 || w.isShared(p) || !w.first(p) {
			return n
		}
		return n + allocBytes(uintptr(len(s)))
	case reflect.Slice:
		elem := v.Type().Elem()
		size := uintptr(v.Cap()) * elem.Size()
		if size == 0 || w.isShared(v.Pointer()) {
			return n
		}
		end := v.Pointer() + size
		switch was, ok := w.ends[end]; {
		case !ok:
			n += allocBytes(size)
			w.ends[end] = size
		case size > was:
			n += int64(size - was)
			w.ends[end] = size
		}
		if !hasPointers(elem) {
			return n
		}
		if from := w.walked[v.Pointer()]; v.Len() > from {
			w.walked[v.Pointer()] = v.Len()
			for i := from; i < v.Len(); i++ {
				n += w.value(v.Index(i), false)
			}
		}
		return n
	case reflect.Array:
		if hasPointers(v.Type().Elem()) {
			for i := range v.Len() {
				n += w.value(v.Index(i), false)
			}
		}
		return n
	case reflect.Struct:
		for i := range v.NumField() {
			if hasPointers(v.Field(i).Type()) {
				n += w.value(v.Field(i), false)
			}
		}
		return n
	case reflect.Map:
		if v.IsNil() || !w.first(v.Pointer()) {
			return n
		}
		t := v.Type()
		n += allocBytes(uintptr(2*v.Len()+8) * (t.Key().Size() + t.Elem().Size() + 1))
		it := v.MapRange()
		for it.Next() {
			n += w.value(it.Key(), false) + w.value(it.Value(), false)
		}
		return n
	}
	return n
}

// pointerTypes caches hasPointers.
var pointerTypes sync.Map // reflect.Type → bool

// hasPointers reports whether a value of type t may reach the heap.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.String, reflect.Slice, reflect.Map:
		return true
	case reflect.Array, reflect.Struct:
		if b, ok := pointerTypes.Load(t); ok {
			return b.(bool)
		}
		b := typeHasPointers(t)
		pointerTypes.Store(t, b)
		return b
	}
	return false
}

// typeHasPointers is hasPointers of an array or struct type, uncached.
func typeHasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
