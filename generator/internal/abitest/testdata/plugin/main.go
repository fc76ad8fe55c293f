//go:build wasip1

// Command plugin is a reactor (build with -buildmode=c-shared) exporting
// test:kitchen/plugin@0.1.0 with the Canonical ABI written out by hand, so
// that the generated export callers are checked against an independent
// implementation of the other side. Each function transforms its input in
// a way the host test predicts; results go through return areas allocated
// here, which post-return "frees" (counts).
package main

import (
	"os"
	"runtime"
	"strings"
	"unsafe"
)

func main() {}

// Memory.

var keep = map[uint32][]byte{}

// alloc returns size bytes aligned to align, kept alive until freed.
func alloc(size, align uint32) uint32 {
	if size == 0 {
		return align
	}
	b := make([]byte, size+align)
	p := uint32(uintptr(unsafe.Pointer(&b[0])))
	p = (p + align - 1) &^ (align - 1)
	keep[p] = b
	return p
}

//go:wasmexport cabi_realloc
func cabiRealloc(oldPtr, oldSize, align, newSize uint32) uint32 {
	return alloc(newSize, align)
}

// ptr turns a linear-memory address into a Go pointer; the memory there is
// kept reachable by its owner (a block alloc keeps, or the host's).
func ptr(p uint32) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), uintptr(p)) }

func mem(p, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(ptr(p)), n)
}

func str(p, n uint32) string { return string(mem(p, n)) }

func putU32(p, v uint32) { *(*uint32)(ptr(p)) = v }
func putU64(p uint32, v uint64) {
	*(*uint64)(ptr(p)) = v
}
func putU8(p uint32, v uint8)    { *(*uint8)(ptr(p)) = v }
func getU32(p uint32) uint32     { return *(*uint32)(ptr(p)) }
func getU8(p uint32) uint8       { return *(*uint8)(ptr(p)) }
func putF64(p uint32, v float64) { *(*float64)(ptr(p)) = v }

// storeString copies s into new memory and returns (ptr, len).
func storeString(s string) (uint32, uint32) {
	p := alloc(uint32(len(s)), 1)
	copy(mem(p, uint32(len(s))), s)
	return p, uint32(len(s))
}

var postReturns uint32

// exitInPost, when not zero, is the code the next post-return exits with
// (see quit).
var exitInPost uint32

func post(uint32) {
	postReturns++
	if exitInPost != 0 {
		os.Exit(int(exitInPost))
	}
}

// Imports of test:shared/things.

//go:wasmimport test:shared/things@0.1.0 [constructor]counter
func newCounter(start uint32) uint32

//go:wasmimport test:shared/things@0.1.0 [method]counter.get
func counterGet(self uint32) uint32

//go:wasmimport test:shared/things@0.1.0 [resource-drop]counter
func dropCounter(self uint32)

// Exports of test:kitchen/plugin.

//go:wasmexport test:kitchen/plugin@0.1.0#add
func add(a, b uint32) uint32 { return a + b }

//go:wasmexport test:kitchen/plugin@0.1.0#shout
func shout(p, n uint32) uint32 {
	r := alloc(8, 4)
	q, m := storeString(strings.ToUpper(str(p, n)) + "!")
	putU32(r, q)
	putU32(r+4, m)
	return r
}

//go:wasmexport cabi_post_test:kitchen/plugin@0.1.0#shout
func postShout(r uint32) { post(r) }

//go:wasmexport test:kitchen/plugin@0.1.0#reverse
func reverse(p, n uint32) uint32 {
	in := mem(p, n)
	q := alloc(n, 1)
	out := mem(q, n)
	for i := range in {
		out[len(in)-1-i] = in[i]
	}
	r := alloc(8, 4)
	putU32(r, q)
	putU32(r+4, n)
	return r
}

//go:wasmexport cabi_post_test:kitchen/plugin@0.1.0#reverse
func postReverse(r uint32) { post(r) }

//go:wasmexport test:kitchen/plugin@0.1.0#scale
func scale(x, y int32, k float64) uint32 {
	r := alloc(8, 4)
	putU32(r, uint32(int32(float64(x)*k)))
	putU32(r+4, uint32(int32(float64(y)*k)))
	return r
}

// classify maps value: none -> text("none"), int(n) -> real(n/2),
// real(f) -> int(f*10), text(s) -> int(len(s)). value is disc u8 at 0,
// payload at 8; size 16.
//
//go:wasmexport test:kitchen/plugin@0.1.0#classify
func classify(disc uint32, a uint64, b uint32) uint32 {
	r := alloc(16, 8)
	switch disc {
	case 0:
		putU8(r, 3)
		q, n := storeString("none")
		putU32(r+8, q)
		putU32(r+12, n)
	case 1:
		putU8(r, 2)
		f := float32(int64(a)) / 2
		putU32(r+8, *(*uint32)(unsafe.Pointer(&f)))
	case 2:
		bits := uint32(a)
		f := *(*float32)(unsafe.Pointer(&bits))
		putU8(r, 1)
		putU64(r+8, uint64(int64(f*10)))
	case 3:
		putU8(r, 1)
		putU64(r+8, uint64(len(str(uint32(a), b))))
	default:
		os.Exit(10)
	}
	return r
}

// lengths: option<string> -> option<u32> (the length); disc u8 at 0, u32 at 4.
//
//go:wasmexport test:kitchen/plugin@0.1.0#lengths
func lengths(disc, p, n uint32) uint32 {
	r := alloc(8, 4)
	if disc == 0 {
		putU8(r, 0)
		return r
	}
	putU8(r, 1)
	putU32(r+4, uint32(len(str(p, n))))
	return r
}

// check: ok(n) -> ok(n+1); err(s) -> err(not-found) when s is "missing",
// else err(denied).
//
//go:wasmexport test:kitchen/plugin@0.1.0#check
func check(disc, a, b uint32) uint32 {
	r := alloc(8, 4)
	if disc == 0 {
		putU8(r, 0)
		putU32(r+4, a+1)
		return r
	}
	putU8(r, 1)
	if str(a, b) == "missing" {
		putU8(r+4, 0)
	} else {
		putU8(r+4, 1)
	}
	return r
}

//go:wasmexport test:kitchen/plugin@0.1.0#toggle
func toggle(p uint32) uint32 { return p ^ 0b111 }

//go:wasmexport test:kitchen/plugin@0.1.0#toggle-many
func toggleMany(w0, w1, w2 uint32) uint32 {
	r := alloc(12, 4)
	putU32(r, ^w0)
	putU32(r+4, ^w1)
	putU32(r+8, ^w2&(1<<6-1)) // 70 flags: 6 bits in the last word
	return r
}

//go:wasmexport test:kitchen/plugin@0.1.0#next
func next(c uint32) uint32 { return (c + 1) % 3 }

// pairs reverses the list and doubles each n; a pair is name (ptr, len) at
// 0, n at 8; size 12.
//
//go:wasmexport test:kitchen/plugin@0.1.0#pairs
func pairs(p, n uint32) uint32 {
	q := alloc(12*n, 4)
	for i := uint32(0); i < n; i++ {
		src, dst := p+12*i, q+12*(n-1-i)
		s, l := storeString(str(getU32(src), getU32(src+4)))
		putU32(dst, s)
		putU32(dst+4, l)
		putU32(dst+8, getU32(src+8)*2)
	}
	r := alloc(8, 4)
	putU32(r, q)
	putU32(r+4, n)
	return r
}

//go:wasmexport cabi_post_test:kitchen/plugin@0.1.0#pairs
func postPairs(r uint32) { post(r) }

// triple: (a, s, f) -> (a+1, s+s, -f); u8 at 0, string at 4, f64 at 16.
//
//go:wasmexport test:kitchen/plugin@0.1.0#triple
func triple(a, p, n uint32, f float64) uint32 {
	r := alloc(24, 8)
	putU8(r, uint8(a)+1)
	s := str(p, n)
	q, m := storeString(s + s)
	putU32(r+4, q)
	putU32(r+8, m)
	putF64(r+16, -f)
	return r
}

// sum17 reads seventeen u32 from the parameter area and weighs them.
//
//go:wasmexport test:kitchen/plugin@0.1.0#sum17
func sum17(p uint32) uint64 {
	var s uint64
	for i := uint32(0); i < 17; i++ {
		s += uint64(getU32(p+4*i)) * uint64(i+1)
	}
	return s
}

//go:wasmexport test:kitchen/plugin@0.1.0#consume
func consume(h uint32) uint32 {
	n := counterGet(h)
	dropCounter(h)
	return n
}

//go:wasmexport test:kitchen/plugin@0.1.0#mint
func mint(start uint32) uint32 { return newCounter(start * 10) }

//go:wasmexport cabi_post_test:kitchen/plugin@0.1.0#mint
func postMint(r uint32) { post(r) }

//go:wasmexport test:kitchen/plugin@0.1.0#post-returns
func postReturnsCount() uint32 { return postReturns }

// quit exits with code; a code of 1<<16 or more instead returns, and
// the next post-return exits with the code less 1<<16.
//
//go:wasmexport test:kitchen/plugin@0.1.0#quit
func quit(code uint32) {
	if code >= 1<<16 {
		exitInPost = code - 1<<16
		return
	}
	os.Exit(int(code))
}

// bad-pointer returns a return area past the end of memory.
//
//go:wasmexport test:kitchen/plugin@0.1.0#bad-pointer
func badPointer() uint32 { return 0xFFFFFFF0 }

// Resources: widget, implemented here. A rep is an index into widgets.

type widget struct {
	name string
	n    uint32
}

var (
	widgets   = map[uint32]*widget{}
	nextRep   uint32
	destroyed uint32
)

//go:wasmimport [export]test:kitchen/plugin@0.1.0 [resource-new]widget
func widgetNew(rep uint32) uint32

//go:wasmimport [export]test:kitchen/plugin@0.1.0 [resource-rep]widget
func widgetRep(h uint32) uint32

//go:wasmimport [export]test:kitchen/plugin@0.1.0 [resource-drop]widget
func widgetDrop(h uint32)

// newWidget makes a widget and returns its own handle.
func newWidget(name string, n uint32) uint32 {
	nextRep++
	widgets[nextRep] = &widget{name: name, n: n}
	return widgetNew(nextRep)
}

// rep returns the widget behind a rep the host passed, exiting on a bad
// one (the host must pass reps it was given).
func rep(r uint32) *widget {
	w, ok := widgets[r]
	if !ok {
		os.Exit(20)
	}
	return w
}

//go:wasmexport test:kitchen/plugin@0.1.0#[constructor]widget
func widgetConstructor(p, n, count uint32) uint32 { return newWidget(str(p, n), count) }

//go:wasmexport test:kitchen/plugin@0.1.0#[method]widget.describe
func widgetDescribe(self uint32) uint32 {
	w := rep(self)
	r := alloc(8, 4)
	q, m := storeString(w.name + ":" + itoa(w.n))
	putU32(r, q)
	putU32(r+4, m)
	return r
}

//go:wasmexport test:kitchen/plugin@0.1.0#[method]widget.bump
func widgetBump(self, k uint32) uint32 {
	w := rep(self)
	w.n += k
	return w.n
}

//go:wasmexport test:kitchen/plugin@0.1.0#[method]widget.twin
func widgetTwin(self uint32) uint32 {
	w := rep(self)
	return newWidget(w.name, 2*w.n)
}

//go:wasmexport test:kitchen/plugin@0.1.0#[method]widget.same
func widgetSame(self, other uint32) uint32 {
	if rep(self).n == rep(other).n {
		return 1
	}
	return 0
}

// from-counter reads the lent counter, ends the borrow, and makes a widget.
//
//go:wasmexport test:kitchen/plugin@0.1.0#[static]widget.from-counter
func widgetFromCounter(c, p, n uint32) uint32 {
	v := counterGet(c)
	dropCounter(c)
	return newWidget(str(p, n), v)
}

//go:wasmexport test:kitchen/plugin@0.1.0#[static]widget.destroyed
func widgetDestroyed() uint32 { return destroyed }

// The destructor. A widget named "boom" traps in it, by calling an import
// with a handle that does not exist.
//
//go:wasmexport test:kitchen/plugin@0.1.0#[dtor]widget
func widgetDtor(r uint32) {
	w := rep(r)
	delete(widgets, r)
	destroyed++
	if w.name == "boom" {
		counterGet(0)
	}
}

// absorb takes an own handle, reads the widget and drops the handle: the
// host runs the destructor from within the drop.
//
//go:wasmexport test:kitchen/plugin@0.1.0#absorb
func absorb(h uint32) uint32 {
	n := rep(widgetRep(h)).n
	widgetDrop(h)
	return n
}

//go:wasmexport test:kitchen/plugin@0.1.0#split
func split(self, n uint32) uint32 {
	w := rep(self)
	q := alloc(4*n, 4)
	for i := uint32(0); i < n; i++ {
		putU32(q+4*i, newWidget(w.name+"/"+itoa(i), w.n))
	}
	r := alloc(8, 4)
	putU32(r, q)
	putU32(r+4, n)
	return r
}

//go:wasmexport test:kitchen/plugin@0.1.0#peek
func peek(c uint32) uint32 {
	v := counterGet(c)
	dropCounter(c)
	return v
}

//go:wasmexport test:kitchen/plugin@0.1.0#keep-borrow
func keepBorrow(c uint32) uint32 { return counterGet(c) }

//go:wasmexport test:kitchen/plugin@0.1.0#bad-handle
func badHandle() uint32 { return 0x7777 }

//go:wasmexport test:kitchen/plugin@0.1.0#rep-of-counter
func repOfCounter(c uint32) uint32 { return widgetRep(c) }

// Borrows nested in arguments: each handle is a lent host counter, which
// the guest reads and drops before returning.

// sumCounters reads and drops the n borrows of the list at p.
func sumCounters(p, n uint32) uint32 {
	var sum uint32
	for i := range n {
		h := getU32(p + 4*i)
		sum += counterGet(h)
		dropCounter(h)
	}
	return sum
}

//go:wasmexport test:kitchen/plugin@0.1.0#sum-counters
func sumCountersExport(p, n uint32) uint32 { return sumCounters(p, n) }

// peekMaybe returns option<u32> through a return area: disc u8 at 0, the
// count at 4.
//
//go:wasmexport test:kitchen/plugin@0.1.0#peek-maybe
func peekMaybe(disc, h uint32) uint32 {
	r := alloc(8, 4)
	putU8(r, uint8(disc))
	if disc == 1 {
		putU32(r+4, counterGet(h))
		dropCounter(h)
	}
	return r
}

// describeTagged returns "name:count" of tagged{name, c}.
//
//go:wasmexport test:kitchen/plugin@0.1.0#describe-tagged
func describeTagged(p, n, h uint32) uint32 {
	s := str(p, n) + ":" + itoa(counterGet(h))
	dropCounter(h)
	r := alloc(8, 4)
	q, m := storeString(s)
	putU32(r, q)
	putU32(r+4, m)
	return r
}

// peekLender: lender is nobody, one(c) (in a), two(tuple<c, c>) (in a, b).
//
//go:wasmexport test:kitchen/plugin@0.1.0#peek-lender
func peekLender(disc, a, b uint32) uint32 {
	switch disc {
	case 1:
		v := counterGet(a)
		dropCounter(a)
		return v
	case 2:
		v := counterGet(a) + counterGet(b)
		dropCounter(a)
		dropCounter(b)
		return v
	}
	return 100
}

// peekEither: ok(c) (in a), or err(tuple<c, c>) (in a, b).
//
//go:wasmexport test:kitchen/plugin@0.1.0#peek-either
func peekEither(disc, a, b uint32) uint32 {
	if disc == 0 {
		v := counterGet(a)
		dropCounter(a)
		return v
	}
	v := counterGet(a) - counterGet(b)
	dropCounter(a)
	dropCounter(b)
	return v
}

// keepNested drops every borrow of the list but the last: hostile.
//
//go:wasmexport test:kitchen/plugin@0.1.0#keep-nested
func keepNested(p, n uint32) uint32 {
	if n == 0 {
		return 0
	}
	last := getU32(p + 4*(n-1))
	return sumCounters(p, n-1) + counterGet(last)
}

// dropTwice drops the borrow it was lent twice: hostile.
//
//go:wasmexport test:kitchen/plugin@0.1.0#drop-twice
func dropTwice(disc, h uint32) uint32 {
	if disc == 0 {
		return 0
	}
	v := counterGet(h)
	dropCounter(h)
	dropCounter(h)
	return v
}

// shuffle sums the counters of cs (at p0, n0), of crowd{name, cs} (its
// list at p1, n1) and of tagged{name, c} (c in h), dropping each.
//
//go:wasmexport test:kitchen/plugin@0.1.0#shuffle
func shuffle(p0, n0, _, _, p1, n1, _, _, h uint32) uint32 {
	v := sumCounters(p0, n0) + sumCounters(p1, n1) + counterGet(h)
	dropCounter(h)
	return v
}

// describeAll: list<borrow<widget>> of the guest's own resource, passed as
// reps.
//
//go:wasmexport test:kitchen/plugin@0.1.0#describe-all
func describeAll(p, n uint32) uint32 {
	var out []string
	for i := range n {
		w := rep(getU32(p + 4*i))
		out = append(out, w.name+":"+itoa(w.n))
	}
	r := alloc(8, 4)
	q, m := storeString(strings.Join(out, ","))
	putU32(r, q)
	putU32(r+4, m)
	return r
}

// peekWidget: option<borrow<widget>>, the rep in r.
//
//go:wasmexport test:kitchen/plugin@0.1.0#peek-widget
func peekWidget(disc, r uint32) uint32 {
	if disc == 0 {
		return 0
	}
	return rep(r).n
}

//go:wasmexport test:kitchen/plugin@0.1.0#mallocs
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
