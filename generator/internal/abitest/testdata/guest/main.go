//go:build wasip1

// Command guest drives the ABI round trip from the guest side. It calls the
// host functions of test:kitchen/echo and test:shared/things with the
// Canonical ABI computed by hand, checks every echoed value exactly, and
// prints "FAIL ..." lines for mismatches. With an argument it runs one
// hostile scenario instead, which must trap.
package main

import (
	"fmt"
	"math"
	"os"
	"unicode/utf8"
)

var failures int

func eq[T comparable](what string, got, want T) {
	check(what, got == want, got, want)
}

func check(what string, ok bool, got, want any) {
	if !ok {
		failures++
		fmt.Printf("FAIL %s: got %v, want %v\n", what, got, want)
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] != "roundtrip" {
		hostile(os.Args[1])
		fmt.Println("hostile scenario did not trap:", os.Args[1])
		os.Exit(3)
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
	fmt.Println("ok", reallocs)
}

func scalars() {
	eq("bool true", echoBool(1), 1)
	eq("bool false", echoBool(0), 0)
	eq("bool from 2", echoBool(2), 1) // any nonzero lifts as true
	eq("s8", echoS8(-128), -128)
	eq("s8 max", echoS8(127), 127)
	eq("s8 wraps", echoS8(0x17F), 127) // lifting wraps to 8 bits
	eq("u8", echoU8(255), 255)
	eq("s16", echoS16(math.MinInt16), math.MinInt16)
	eq("u16", echoU16(math.MaxUint16), math.MaxUint16)
	eq("s32", echoS32(math.MinInt32), math.MinInt32)
	eq("u32", echoU32(math.MaxUint32), math.MaxUint32)
	eq("s64", echoS64(math.MinInt64), math.MinInt64)
	eq("u64", echoU64(math.MaxUint64), math.MaxUint64)
	eq("f32 nan bits", math.Float32bits(echoF32(math.Float32frombits(0x7FC00001))), 0x7FC00001)
	eq("f32 -0", math.Float32bits(echoF32(float32(math.Copysign(0, -1)))), 0x80000000)
	eq("f32 inf", echoF32(float32(math.Inf(1))), float32(math.Inf(1)))
	f := echoF64(math.NaN())
	check("f64 nan", math.IsNaN(f), f, "NaN")
	eq("f64 max", echoF64(math.MaxFloat64), math.MaxFloat64)
	eq("f64 smallest", echoF64(math.SmallestNonzeroFloat64), math.SmallestNonzeroFloat64)
	eq("char é", echoChar('é'), 'é')
	eq("char emoji", echoChar(0x1F600), 0x1F600)
	eq("char max", echoChar(0x10FFFF), 0x10FFFF)
	eq("color", echoColor(2), 2)
	eq("small", echoSmall(0b101), 0b101)
	eq("small masks", echoSmall(0xFF), 0b111) // unknown flag bits are ignored

	r := ret(8)
	echoWide(0xDEADBEEF, 0x81, r) // 40 flags: bits 32..39 live in the second word
	eq("wide lo", u32(r), 0xDEADBEEF)
	eq("wide hi", u32(r+4), 0x81)
	r = ret(12)
	echoHuge(0xFFFFFFFF, 0x80000001, 0xFFFFFFFF, r) // 70 flags: 6 bits in the last word
	eq("huge 0", u32(r), 0xFFFFFFFF)
	eq("huge 1", u32(r+4), 0x80000001)
	eq("huge 2", u32(r+8), 0x3F)

	if res := echoResultEmpty(1); res != 1 {
		check("result empty err", false, res, 1)
	}
	if res := echoResultEmpty(0); res != 0 {
		check("result empty ok", false, res, 0)
	}

	p := alloc(68, 4)
	var want uint64
	for i := uint32(0); i < 17; i++ {
		v := 0xF0000000 + i
		put32(p+4*i, v)
		want += uint64(v)
	}
	eq("sum17", sum17(p), want)
}

func stringsAndLists() {
	for _, s := range []string{"", "hello", "héllo, 世界 😀", string([]byte{0xF4, 0x8F, 0xBF, 0xBF})} {
		sp, sn := str(s)
		r := ret(8)
		echoString(sp, sn, r)
		got := getString(r)
		check("string "+s, got == s && utf8.ValidString(got), got, s)
	}
	for _, n := range []uint32{0, 1, 65536} {
		p := alloc(n+1, 1)
		b := mem(p, n)
		for i := range b {
			b[i] = byte(i*7 + 3)
		}
		r := ret(8)
		echoBytes(p, n, r)
		got := mem(u32(r), u32(r+4))
		check(fmt.Sprint("bytes len ", n), string(got) == string(b), len(got), n)
	}

	list := []string{"a", "", "ü", "zzz"}
	lp := alloc(uint32(8*len(list)), 4)
	for i, s := range list {
		putString(lp+uint32(8*i), s)
	}
	r := ret(8)
	echoStrings(lp, uint32(len(list)), r)
	eq("strings len", u32(r+4), uint32(len(list)))
	for i, s := range list {
		got := getString(u32(r) + uint32(8*i))
		check("strings elem", got == s, got, s)
	}
	r = ret(8)
	echoStrings(0, 0, r)
	eq("strings empty", u32(r+4), 0)

	// list<item>; item = {a: option<string> @0 (12 bytes), b: list<tuple<u8, s64>> @12}: 20 bytes, align 4.
	// tuple<u8, s64> = u8 @0, s64 @8: 16 bytes, align 8.
	items := alloc(40, 4)
	put8(items, 1)
	putString(items+4, "x")
	tl := alloc(32, 8)
	put8(tl, 1)
	put64(tl+8, uint64(1<<64-1)) // -1
	put8(tl+16, 255)
	put64(tl+24, 1<<63) // math.MinInt64
	put32(items+12, tl)
	put32(items+16, 2)
	put8(items+20, 0) // none
	put32(items+32, 0)
	put32(items+36, 0)
	r = ret(8)
	echoItems(items, 2, r)
	eq("items len", u32(r+4), 2)
	it := u32(r)
	check("item0.a", u8(it) == 1 && getString(it+4) == "x", getString(it+4), "x")
	eq("item0.b len", u32(it+16), 2)
	tb := u32(it + 12)
	check("item0.b[0]", u8(tb) == 1 && int64(u64(tb+8)) == -1, int64(u64(tb+8)), -1)
	check("item0.b[1]", u8(tb+16) == 255 && int64(u64(tb+24)) == math.MinInt64, int64(u64(tb+24)), int64(math.MinInt64))
	eq("item1.a", u8(it+20), 0)
	eq("item1.b", u32(it+36), 0)
}

func records() {
	// prims: b@0 s8@1 u8@2 s16@4 u16@6 s32@8 u32@12 s64@16 u64@24 f32@32 f64@40 char@48 string@52: 64 bytes.
	sp, sn := str("prims ✓")
	r := ret(64)
	echoPrims(1, 0xFFFFFF80, 200, 0xFFFF8000, 65535, 0x80000000, 0xFFFFFFFF, 1<<63, 1<<64-1,
		float32(math.Inf(-1)), math.Pi, 0x1F600, sp, sn, r)
	eq("prims.b", u8(r), 1)
	eq("prims.s8", int8(u8(r+1)), -128)
	eq("prims.u8", u8(r+2), 200)
	eq("prims.s16", int16(u16(r+4)), math.MinInt16)
	eq("prims.u16", u16(r+6), 65535)
	eq("prims.s32", int32(u32(r+8)), math.MinInt32)
	eq("prims.u32", u32(r+12), math.MaxUint32)
	eq("prims.s64", int64(u64(r+16)), math.MinInt64)
	eq("prims.u64", u64(r+24), math.MaxUint64)
	check("prims.f32", math.Float32frombits(u32(r+32)) == float32(math.Inf(-1)), math.Float32frombits(u32(r+32)), "-Inf")
	check("prims.f64", math.Float64frombits(u64(r+40)) == math.Pi, math.Float64frombits(u64(r+40)), math.Pi)
	eq("prims.char", u32(r+48), 0x1F600)
	eq("prims.s", getString(r+52), "prims ✓")

	r = ret(8)
	echoPoint(-7, math.MaxInt32, r)
	check("point", int32(u32(r)) == -7 && int32(u32(r+4)) == math.MaxInt32, [2]int32{int32(u32(r)), int32(u32(r + 4))}, [2]int32{-7, math.MaxInt32})

	// tuple<u8, string, f64>: u8@0 string@4 f64@16: 24 bytes.
	sp, sn = str("tü")
	r = ret(24)
	echoTuple(9, sp, sn, -2.5, r)
	check("tuple", u8(r) == 9 && getString(r+4) == "tü" && math.Float64frombits(u64(r+16)) == -2.5,
		[]any{u8(r), getString(r + 4), math.Float64frombits(u64(r + 16))}, "9 tü -2.5")
}

// shape layout: case u8 @0, payload @8; 24 bytes, align 8.
func checkShape(what string, r uint32, tag uint8, check1 func(p uint32) bool) {
	check(what+" tag", u8(r) == tag, u8(r), tag)
	if check1 != nil {
		check(what+" payload", check1(r+8), mem(r+8, 16), "payload")
	}
}

func variants() {
	r := ret(24)
	echoShape(0, 0, 0, r)
	checkShape("nothing", r, 0, nil)
	r = ret(24)
	echoShape(1, uint64(math.Float32bits(1.5)), 0, r) // f32 in an i64 slot: its bits, zero-extended
	checkShape("circle", r, 1, func(p uint32) bool { return math.Float32frombits(u32(p)) == 1.5 })
	r = ret(24)
	echoShape(2, math.Float64bits(2.5), math.Float64bits(-3.5), r)
	checkShape("rect", r, 2, func(p uint32) bool {
		return math.Float64frombits(u64(p)) == 2.5 && math.Float64frombits(u64(p+8)) == -3.5
	})
	sp, sn := str("ü")
	r = ret(24)
	echoShape(3, uint64(sp), uint64(sn), r)
	checkShape("label", r, 3, func(p uint32) bool { return getString(p) == "ü" })
	r = ret(24)
	echoShape(4, math.MaxUint64, 0, r)
	checkShape("big", r, 4, func(p uint32) bool { return u64(p) == math.MaxUint64 })
	r = ret(24)
	echoShape(5, uint64(uint32(0xFFFFFFFF)), 7, r) // point{-1, 7}
	checkShape("at", r, 5, func(p uint32) bool { return int32(u32(p)) == -1 && u32(p+4) == 7 })

	// list<shape>: 24-byte elements.
	sl := alloc(48, 8)
	put8(sl, 1)
	put32(sl+8, math.Float32bits(-0.25))
	put8(sl+24, 3)
	putString(sl+32, "λ")
	r = ret(8)
	echoShapes(sl, 2, r)
	e := u32(r)
	eq("shapes len", u32(r+4), 2)
	checkShape("shapes[0]", e, 1, func(p uint32) bool { return math.Float32frombits(u32(p)) == -0.25 })
	checkShape("shapes[1]", e+24, 3, func(p uint32) bool { return getString(p) == "λ" })

	// option<string>: case u8 @0, string @4: 12 bytes.
	sp, sn = str("some")
	r = ret(12)
	echoOption(1, sp, sn, r)
	check("option some", u8(r) == 1 && getString(r+4) == "some", getString(r+4), "some")
	r = ret(12)
	echoOption(0, 0, 0, r)
	eq("option none", u8(r), 0)

	// result<u32, string>: case u8 @0, payload @4: 12 bytes.
	r = ret(12)
	echoResult(0, 7, 0, r)
	check("result ok", u8(r) == 0 && u32(r+4) == 7, u32(r+4), 7)
	sp, sn = str("bad")
	r = ret(12)
	echoResult(1, sp, sn, r)
	check("result err", u8(r) == 1 && getString(r+4) == "bad", getString(r+4), "bad")
	r = ret(8)
	echoResultOK(0, 42, r)
	check("result<u32> ok", u8(r) == 0 && u32(r+4) == 42, u32(r+4), 42)
	r = ret(8)
	echoResultOK(1, 0, r)
	eq("result<u32> err", u8(r), 1)
	// result<_, error-code>: case u8 @0, enum u8 @1.
	r = ret(2)
	echoResultErr(1, 1, r)
	check("result<_, error-code> err", u8(r) == 1 && u8(r+1) == 1, mem(r, 2), []byte{1, 1})
	r = ret(2)
	echoResultErr(0, 0, r)
	eq("result<_, error-code> ok", u8(r), 0)

	// option<result<list<option<u16>>, shape>>: option case u8 @0, result @8
	// (case u8 @8, payload @16): 40 bytes. option<u16> = case u8 @0, u16 @2.
	ol := alloc(12, 2)
	put8(ol, 1)
	put16(ol+2, 1)
	put8(ol+4, 0)
	put8(ol+8, 1)
	put16(ol+10, 65535)
	r = ret(40)
	echoNested(1, 0, ol, 3, 0, r)
	check("nested some ok", u8(r) == 1 && u8(r+8) == 0 && u32(r+20) == 3, mem(r, 24), "some(ok(3 elements))")
	l := u32(r + 16)
	check("nested list", u8(l) == 1 && u16(l+2) == 1 && u8(l+4) == 0 && u8(l+8) == 1 && u16(l+10) == 65535,
		mem(l, 12), "[some(1) none some(65535)]")
	r = ret(40)
	echoNested(1, 1, 1, uint64(math.Float32bits(0.5)), 0, r)
	check("nested some err circle", u8(r) == 1 && u8(r+8) == 1 && u8(r+16) == 1 && math.Float32frombits(u32(r+24)) == 0.5,
		mem(r, 40), "some(err(circle(0.5)))")
	r = ret(40)
	echoNested(0, 0, 0, 0, 0, r)
	eq("nested none", u8(r), 0)
}

func resources() {
	c := newCounter(5)
	eq("counter get", counterGet(c), 5)
	eq("counter get @0.1.1", counterGetV011(c), 5)
	eq("peek", peekCounter(c), 5)
	v := counterView(c)
	eq("view peek", viewPeek(v), 5)
	dropView(v)
	eq("take", takeCounter(c), 5) // moves c to the host

	// result<own<counter>, error-code>: case u8 @0, payload @4.
	r := ret(8)
	makeCounter(11, 0, r)
	eq("make ok", u8(r), 0)
	m := u32(r + 4)
	eq("made counter", counterGet(m), 11)
	r = ret(8)
	makeCounter(0, 1, r)
	check("make err", u8(r) == 1 && u8(r+4) == 1, mem(r, 8), "err(denied)")
	r = ret(8)
	counterMake(12, 0, r)
	check("static make", u8(r) == 0 && counterGet(u32(r+4)) == 12, mem(r, 8), "ok(counter 12)")
	dropCounter(u32(r + 4))

	r = ret(8)
	counters(3, r)
	eq("counters", u32(r+4), 3)
	for i := uint32(0); i < u32(r+4); i++ {
		h := u32(u32(r) + 4*i)
		eq("counters[i]", counterGet(h), i)
		dropCounter(h)
	}
	a, b := newCounter(30), newCounter(12)
	eq("merge", merge(a, b), 42) // b moves to the host
	dropCounter(a)

	// m stays live: the host checks that Close drops it.
	_ = m
}

// hostile runs one faulty call; each must trap.
func hostile(name string) {
	switch name {
	case "oob-string":
		echoString(0xFFFFFFF0, 100, ret(8))
	case "oob-length":
		p, _ := str("abc")
		echoBytes(p, 0xFFFFFFFF, ret(8))
	case "oob-retptr":
		p, n := str("abc")
		echoString(p, n, 0xFFFFFFFC)
	case "misaligned-retptr":
		echoShape(0, 0, 0, ret(32)+4)
	case "misaligned-list":
		echoItems(alloc(40, 4)+1, 1, ret(8))
	case "oob-params":
		sum17(0xFFFFFFF0)
	case "bad-utf8":
		p := alloc(2, 1)
		put8(p, 0xFF)
		put8(p+1, 0xFE)
		echoString(p, 2, ret(8))
	case "bad-char":
		echoChar(0xD800)
	case "bad-enum":
		echoColor(3)
	case "bad-variant":
		echoShape(9, 0, 0, ret(24))
	case "bad-variant-in-memory":
		sl := alloc(24, 8)
		put8(sl, 6)
		echoShapes(sl, 1, ret(8))
	case "unknown-handle":
		newCounter(1)
		peekCounter(12345)
	case "zero-handle":
		peekCounter(0)
	case "wrong-type":
		c := newCounter(1)
		v := counterView(c)
		peekCounter(v)
	case "dropped-handle":
		c := newCounter(1)
		dropCounter(c)
		peekCounter(c)
	case "moved-handle":
		c := newCounter(1)
		takeCounter(c)
		peekCounter(c)
	case "double-drop":
		c := newCounter(1)
		dropCounter(c)
		dropCounter(c)
	case "parent-drop":
		c := newCounter(1)
		counterView(c)
		dropCounter(c)
	case "no-realloc":
		p, n := str("abc")
		echoString(p, n, ret(8))
	case "no-realloc-resources", "bad-realloc-resources":
		badRealloc = name == "bad-realloc-resources"
		counters(3, ret(8))
	case "bad-realloc":
		badRealloc = true
		p, n := str("abc")
		echoString(p, n, ret(8))
	case "bad-own-in-list", "own-twice-in-list":
		// list<own<counter>>: a handle that is not in the table after two
		// good ones, or one handle twice.
		a, b := newCounter(1), newCounter(2)
		hs := []uint32{a, b, a}
		if name == "bad-own-in-list" {
			hs = []uint32{a, b, 12345, newCounter(3)}
		}
		l := alloc(uint32(4*len(hs)), 4)
		for i, h := range hs {
			put32(l+uint32(4*i), h)
		}
		takeAll(l, uint32(len(hs)))
	case "lent-and-moved":
		c := newCounter(1)
		merge(c, c)
	case "aliased-strings":
		big := alloc(2<<20, 1)
		b := mem(big, 2<<20)
		for i := range b {
			b[i] = 'a'
		}
		const n = 256
		l := alloc(8*n, 4)
		for i := uint32(0); i < n; i++ {
			put32(l+8*i, big)
			put32(l+8*i+4, 2<<20)
		}
		echoStrings(l, n, ret(8))
	case "reentrant-realloc":
		reenter = newCounter(1)
		p, n := str("abc")
		echoString(p, n, ret(8))
	case "host-panic":
		newCounter(1)
		echoU32(0xDEAD)
	case "host-bad-error":
		makeCounter(666, 1, ret(8))
	default:
		fmt.Println("unknown scenario", name)
		os.Exit(2)
	}
}
