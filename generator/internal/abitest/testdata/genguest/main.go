//go:build wasip1

// Command genguest is the ABI round trip through generated code on both
// sides: it calls every import of test:kitchen/echo and test:shared/things
// through the Go guest bindings wit2host -guest generated (../../../kitchenguest)
// against the host bindings (../../../kitchen), with edge values, checks
// every echoed value exactly, and prints "FAIL ..." lines for mismatches.
//
// With the argument "allocs" it prints instead the heap allocations of
// allocCalls calls of each import whose arguments are lowered into a block
// and whose result is a scalar:
//
//	allocs <calls> <total-len> <sum17>
package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"runtime"
	"strings"

	"github.com/wasitls/wasitls/cabi/witval"
	"github.com/wasitls/wasitls/generator/internal/kitchenguest/test/kitchen/echo"
	"github.com/wasitls/wasitls/generator/internal/kitchenguest/test/shared/things"
)

var failures int

func eq[T comparable](what string, got, want T) {
	check(what, got == want, got, want)
}

func deq(what string, got, want any) {
	check(what, reflect.DeepEqual(got, want), got, want)
}

func check(what string, ok bool, got, want any) {
	if !ok {
		failures++
		g, w := fmt.Sprint(got), fmt.Sprint(want)
		if len(g) > 200 {
			g = g[:200] + "..."
		}
		if len(w) > 200 {
			w = w[:200] + "..."
		}
		fmt.Printf("FAIL %s: got %s, want %s\n", what, g, w)
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "allocs" {
		allocs()
		return
	}
	scalars()
	stringsAndLists()
	records()
	variants()
	resources()
	if failures > 0 {
		fmt.Printf("%d failures\n", failures)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func scalars() {
	eq("bool true", echo.EchoBool(true), true)
	eq("bool false", echo.EchoBool(false), false)
	eq("s8 min", echo.EchoS8(math.MinInt8), math.MinInt8)
	eq("s8 max", echo.EchoS8(math.MaxInt8), math.MaxInt8)
	eq("u8", echo.EchoU8(math.MaxUint8), math.MaxUint8)
	eq("s16", echo.EchoS16(math.MinInt16), math.MinInt16)
	eq("u16", echo.EchoU16(math.MaxUint16), math.MaxUint16)
	eq("s32", echo.EchoS32(math.MinInt32), math.MinInt32)
	eq("u32", echo.EchoU32(math.MaxUint32), math.MaxUint32)
	eq("s64", echo.EchoS64(math.MinInt64), math.MinInt64)
	eq("u64", echo.EchoU64(math.MaxUint64), math.MaxUint64)
	eq("f32 nan bits", math.Float32bits(echo.EchoF32(math.Float32frombits(0x7FC00001))), 0x7FC00001)
	eq("f32 -0", math.Float32bits(echo.EchoF32(float32(math.Copysign(0, -1)))), 0x80000000)
	eq("f32 inf", echo.EchoF32(float32(math.Inf(-1))), float32(math.Inf(-1)))
	f := echo.EchoF64(math.NaN())
	check("f64 nan", math.IsNaN(f), f, "NaN")
	eq("f64 nan bits", math.Float64bits(echo.EchoF64(math.Float64frombits(0x7FF8000000000001))), 0x7FF8000000000001)
	eq("f64 max", echo.EchoF64(math.MaxFloat64), math.MaxFloat64)
	eq("f64 smallest", echo.EchoF64(math.SmallestNonzeroFloat64), math.SmallestNonzeroFloat64)
	eq("char é", echo.EchoChar('é'), 'é')
	eq("char max", echo.EchoChar(0x10FFFF), 0x10FFFF)
	eq("color", echo.EchoColor(echo.ColorBlue), echo.ColorBlue)
	eq("small", echo.EchoSmall(echo.SmallA|echo.SmallC), echo.SmallA|echo.SmallC)
	eq("wide", echo.EchoWide(echo.WideW0|echo.WideW31|echo.WideW32|echo.WideW39), echo.WideW0|echo.WideW31|echo.WideW32|echo.WideW39)
	var h echo.Huge
	for _, b := range []echo.HugeBit{echo.HugeH0, echo.HugeH31, echo.HugeH32, echo.HugeH63, echo.HugeH64, echo.HugeH69} {
		h.Set(b)
	}
	eq("huge", echo.EchoHuge(h), h)
	args := [17]uint32{}
	want := uint64(0)
	for i := range args {
		args[i] = math.MaxUint32 - uint32(i)
		want += uint64(args[i])
	}
	eq("sum17 (spilled parameters)", echo.Sum17(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8],
		args[9], args[10], args[11], args[12], args[13], args[14], args[15], args[16]), want)
}

// allocCalls is how many calls each allocation count covers.
const allocCalls = 1000

// allocs prints the heap allocations of allocCalls calls of total-len (a
// list of lists: an outer block of addresses) and of sum17 (spilled
// parameters: a block of 17 words).
func allocs() {
	lists := [][]byte{[]byte("h2"), []byte("http/1.1")}
	var a [17]uint32
	count := func(call func()) uint64 {
		call() // the arena and the kept list grow once
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range allocCalls {
			call()
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	total := count(func() {
		if n := echo.TotalLen(lists); n != 10 {
			fail("total-len", n)
		}
	})
	sum := count(func() {
		if n := echo.Sum17(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16]); n != 0 {
			fail("sum17", n)
		}
	})
	if failures > 0 {
		os.Exit(1)
	}
	fmt.Println("allocs", allocCalls, total, sum)
}

// fail records a failure of the allocs mode.
func fail(what string, got any) {
	failures++
	fmt.Printf("FAIL %s: got %v\n", what, got)
}

func stringsAndLists() {
	for _, s := range []string{"", "a", "héllo 😀 世界", strings.Repeat("ü", 32<<10)} {
		eq(fmt.Sprintf("string of %d bytes", len(s)), echo.EchoString(s), s)
	}
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	deq("bytes 64 KiB", []byte(echo.EchoBytes(big)), big)
	eq("bytes empty", len(echo.EchoBytes(nil)), 0)
	strs := []string{"", "x", "é😀", strings.Repeat("z", 1000)}
	deq("strings", echo.EchoStrings(strs), strs)
	eq("strings empty", len(echo.EchoStrings(nil)), 0)
	many := make([]string, 4096)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	deq("strings 4096", echo.EchoStrings(many), many)
	items := []echo.Item{
		{A: witval.Some("ä"), B: []witval.Tuple2[uint8, int64]{{F0: 1, F1: -1}, {F0: 255, F1: math.MinInt64}}},
		{A: witval.None[string]()},
		{A: witval.Some(""), B: []witval.Tuple2[uint8, int64]{{F0: 0, F1: math.MaxInt64}}},
	}
	deq("items", echo.EchoItems(items), items)
	eq("total-len", echo.TotalLen([][]byte{[]byte("h2"), nil, []byte("http/1.1")}), 10)
	eq("total-len empty", echo.TotalLen(nil), 0)
	var bigLists [][]byte
	for range 40000 { // 320,000 bytes of addresses: past the arena, on the heap
		bigLists = append(bigLists, []byte("ab"))
	}
	eq("total-len past the arena", echo.TotalLen(bigLists), 80000)
}

func records() {
	p := echo.Prims{
		B: true, VS8: math.MinInt8, VU8: math.MaxUint8, VS16: math.MinInt16, VU16: math.MaxUint16,
		VS32: math.MinInt32, VU32: math.MaxUint32, VS64: math.MinInt64, VU64: math.MaxUint64,
		VF32: -1.5, VF64: math.MaxFloat64, C: '😀', S: "prïms",
	}
	eq("prims", echo.EchoPrims(p), p)
	pt := echo.Point{X: math.MinInt32, Y: math.MaxInt32}
	eq("point", echo.EchoPoint(pt), pt)
	tu := witval.Tuple3[uint8, string, float64]{F0: 255, F1: "tüple", F2: -0.5}
	eq("tuple", echo.EchoTuple(tu), tu)
}

func variants() {
	shapes := []echo.Shape{
		echo.ShapeNothing(),
		echo.ShapeCircle(float32(math.Inf(1))),
		echo.ShapeRect(witval.Tuple2[float64, float64]{F0: -1, F1: math.MaxFloat64}),
		echo.ShapeLabel("läbel"),
		echo.ShapeBig(math.MaxUint64),
		echo.ShapeAt(echo.Point{X: -7, Y: 9}),
	}
	for _, s := range shapes {
		eq("shape "+s.Tag.String(), echo.EchoShape(s), s)
	}
	nan := echo.EchoShape(echo.ShapeCircle(math.Float32frombits(0x7FC00001)))
	eq("shape circle nan bits", math.Float32bits(nan.Circle), 0x7FC00001)
	deq("shapes", echo.EchoShapes(shapes), shapes)

	s, ok := echo.EchoOption(witval.Some("öption"))
	eq("option some", s, "öption")
	eq("option some ok", ok, true)
	_, ok = echo.EchoOption(witval.None[string]())
	eq("option none", ok, false)

	n, err := echo.EchoResult(witval.OK[uint32, string](math.MaxUint32))
	eq("result ok", n, math.MaxUint32)
	eq("result ok err", err, nil)
	_, err = echo.EchoResult(witval.Err[uint32]("bäd"))
	check("result err", err != nil && err.Error() == "bäd", err, "bäd")
	n, err = echo.EchoResultOK(witval.OK[uint32, witval.Unit](7))
	eq("result<u32> ok", n, 7)
	eq("result<u32> ok err", err, nil)
	n, err = echo.EchoResultOK(witval.Err[uint32](witval.Unit{}))
	check("result<u32> err", err != nil, err, "an error")
	eq("result<u32> err: zero value", n, 0)
	eq("result<_, error-code> ok", echo.EchoResultErr(witval.OK[witval.Unit, echo.ErrorCode](witval.Unit{})), nil)
	err = echo.EchoResultErr(witval.Err[witval.Unit](things.ErrorCodeDenied))
	var code things.ErrorCode
	check("result<_, error-code> err", errors.As(err, &code) && code == things.ErrorCodeDenied, err, things.ErrorCodeDenied)
	eq("result ok (empty)", echo.EchoResultEmpty(witval.OK[witval.Unit, witval.Unit](witval.Unit{})), nil)
	check("result err (empty)", echo.EchoResultEmpty(witval.Err[witval.Unit](witval.Unit{})) != nil, nil, "an error")

	type nested = witval.Result[[]witval.Option[uint16], echo.Shape]
	_, ok = echo.EchoNested(witval.None[nested]())
	eq("nested none", ok, false)
	in := witval.OK[[]witval.Option[uint16], echo.Shape]([]witval.Option[uint16]{witval.Some[uint16](1), witval.None[uint16](), witval.Some[uint16](math.MaxUint16)})
	got, ok := echo.EchoNested(witval.Some(in))
	deq("nested ok", got, in)
	eq("nested ok some", ok, true)
	in = witval.Err[[]witval.Option[uint16]](echo.ShapeLabel("nëst"))
	got, _ = echo.EchoNested(witval.Some(in))
	deq("nested err", got, in)
}

func resources() {
	c, err := echo.MakeCounter(5, false)
	eq("make-counter err", err, nil)
	eq("counter get", c.Get(), 5)
	eq("counter get (borrow)", c.Borrow().Get(), 5)
	v := c.View()
	eq("view peek", v.Peek(), 5)
	v.Drop()
	eq("peek-counter (borrow)", echo.PeekCounter(c.Borrow()), 5)
	_, err = echo.MakeCounter(1, true)
	check("make-counter error-code", err == things.ErrorCodeDenied, err, things.ErrorCodeDenied)
	d := things.NewCounter(10)
	eq("merge", echo.Merge(c.Borrow(), d), 15) // consumes d
	eq("take-counter", echo.TakeCounter(c), 5) // consumes c
	s, err := things.CounterMake(3, false)
	eq("static make", s.Get(), 3)
	eq("static make err", err, nil)
	s.Drop()
	cs := echo.Counters(3)
	eq("counters", len(cs), 3)
	for i, x := range cs {
		eq(fmt.Sprintf("counter %d", i), x.Get(), uint32(i))
		x.Drop()
	}

	// Handles inside arguments: borrows in a list (one counter twice) and
	// in a record, owns in an option.
	a, b := things.NewCounter(2), things.NewCounter(30)
	eq("sum-counters", echo.SumCounters([]things.CounterBorrow{a.Borrow(), b.Borrow(), a.Borrow()}), 34)
	eq("sum-counters (empty)", echo.SumCounters(nil), 0)
	eq("describe-tagged", echo.DescribeTagged(things.Tagged{Name: "tâg", C: b.Borrow()}), "tâg:30")
	eq("counter after lending", b.Get(), 30)
	eq("take-maybe (none)", echo.TakeMaybe(witval.None[things.Counter]()), 0)
	eq("take-maybe", echo.TakeMaybe(witval.Some(a)), 2) // consumes a
	b.Drop()

	// A list of owns: every element moves to the host.
	owns := []things.Counter{things.NewCounter(1), things.NewCounter(20), things.NewCounter(300)}
	eq("take-all", echo.TakeAll(owns), 321)
	eq("take-all (empty)", echo.TakeAll(nil), 0)
}
