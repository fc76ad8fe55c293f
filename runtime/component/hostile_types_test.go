package component

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
)

// vidx encodes a type index as a value type: padded to five bytes, so
// that no index reads as a primitive (a single byte in 0x40-0x7f).
func vidx(i int) []byte {
	v := uint32(i)
	return []byte{byte(v) | 0x80, byte(v>>7) | 0x80, byte(v>>14) | 0x80, byte(v>>21) | 0x80, byte(v >> 28)}
}

// doublingTypes is an instance type whose type 0 is tuple<u8, u8> and
// each next type a tuple of two of the one before: n+1 types of a few
// bytes each, the last one 2^(n+1) bytes wide when expanded. extra are
// more declarations after them (type n+1 is the first of them).
func doublingTypes(n int, extra ...[]byte) []byte {
	decls := [][]byte{{0x01, 0x6f, 0x02, 0x7d, 0x7d}}
	for i := 1; i <= n; i++ {
		decls = append(decls, cat([]byte{0x01, 0x6f, 0x02}, vidx(i-1), vidx(i-1)))
	}
	return cat([]byte{0x42}, vec(append(decls, extra...)...))
}

// nestedLists is an instance type of n types, each a list of the one
// before (type 0 a list<u8>).
func nestedLists(n int, extra ...[]byte) []byte {
	decls := [][]byte{{0x01, 0x70, 0x7d}}
	for i := 1; i < n; i++ {
		decls = append(decls, cat([]byte{0x01, 0x70}, vidx(i-1)))
	}
	return cat([]byte{0x42}, vec(append(decls, extra...)...))
}

// importingFunc imports instance type it as wasi:cli/exit@0.2.0 whose
// function exit has type fn (an index in it), and lowers exit.
func importingFunc(it []byte) []byte {
	return comp(
		section(secType, vec(it)),
		section(secImport, vec(cat([]byte{0x00}, name("wasi:cli/exit@0.2.0"), []byte{0x05}, u32(0)))),
		section(secAlias, vec(cat([]byte{0x01, 0x00}, u32(0), name("exit")))),
		section(secCanon, vec(cat([]byte{0x01, 0x00}, u32(0), vec()))),
	)
}

// TestHostileTypes checks that types a few bytes long whose expansion is
// not (a tuple of tuples doubling at each level, flattened 2^41 core
// values wide; lists nested deeper than the host's stack holds) are
// refused at instantiation, quickly, rather than expanded: the
// measurement stopped within twice MaxTypeSize nodes, or one level past
// MaxTypeDepth, as its error counts them (counted, not timed: a loaded
// machine made a bound on the time fail).
func TestHostileTypes(t *testing.T) {
	funcOf := func(i int) [][]byte {
		return [][]byte{
			cat([]byte{0x01, 0x40}, vec(cat(name("x"), vidx(i))), []byte{0x01, 0x00}),
			cat([]byte{0x04, 0x00}, name("exit"), []byte{0x01}, u32(uint32(i+1))),
		}
	}
	for _, tc := range []struct {
		name   string
		b      []byte
		want   string
		format string // of the count in the error
		most   int
	}{
		{"doubling", importingFunc(doublingTypes(40, funcOf(40)...)), "type too large", "type too large (%d nodes expanded", 2 * MaxTypeSize},
		{"deep", importingFunc(nestedLists(200_000, funcOf(199_999)...)), "nested too deep", "nested too deep (%d levels", MaxTypeDepth + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := instantiate(t, tc.b, trapLinker{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			msg := err.Error()
			var n int
			if _, serr := fmt.Sscanf(msg[strings.Index(msg, tc.want):], tc.format, &n); serr != nil || n > tc.most {
				t.Errorf("err = %v: measured %d (%v), want at most %d", err, n, serr, tc.most)
			}
		})
	}
}

// manyLifts is a component that lifts one core function n times with the
// type func(x: tuple<u8 × width>): n definitions of seven bytes each.
func manyLifts(width, n int) []byte {
	tu := cat([]byte{0x6f}, u32(uint32(width)))
	for range width {
		tu = append(tu, 0x7d) // u8
	}
	fbody := []byte{0x00, 0x0b}
	mod := core(
		section(1, vec([]byte{0x60, 0x01, 0x7f, 0x00})),
		section(3, vec(u32(0))),
		section(5, vec([]byte{0x00, 0x01})),
		section(7, vec(cat(name("f"), []byte{0x00}, u32(0)), cat(name("memory"), []byte{0x02}, u32(0)))),
		section(10, vec(cat(u32(uint32(len(fbody))), fbody))),
	)
	lifts := make([][]byte, n)
	for i := range lifts {
		lifts[i] = cat([]byte{0x00, 0x00}, u32(0), vec(cat([]byte{0x03}, u32(0))), u32(1))
	}
	return comp(
		section(secCoreModule, mod),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(0), name("f")),
			cat([]byte{0x00, 0x02, 0x01}, u32(0), name("memory")),
		)),
		section(secType, vec(tu, cat([]byte{0x40}, vec(cat(name("x"), vidx(0))), []byte{0x01, 0x00}))),
		section(secCanon, vec(lifts...)),
	)
}

// TestLiftCostsItsSignature checks that a `canon lift` costs the host what
// its core signature has values, not what its type has nodes: before,
// each one flattened its function type anew (three times over), so a
// component of one type of 50,000 nodes (within MaxTypeSize) and a
// million lifts of seven bytes each (within MaxDefinitionsRun) made the
// host walk 10^11 type nodes, half an hour of CPU. The type's flattening
// is now kept with it when it is resolved. Measured as the bytes
// instantiating allocates, not time: a thousand lifts of the wide type
// allocate about what a thousand of a narrow one do, and the wide type
// once.
func TestLiftCostsItsSignature(t *testing.T) {
	const lifts = 1000
	allocated := func(width int) uint64 {
		b := manyLifts(width, lifts)
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		inst, err := instantiate(t, b, trapLinker{})
		goruntime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		inst.Close(context.Background())
		return after.TotalAlloc - before.TotalAlloc
	}
	narrow, wide := allocated(1), allocated(50_000)
	if wide > narrow+16<<20 {
		t.Fatalf("%d lifts of a 50,000-element tuple allocated %d bytes, of a 1-element one %d: each lift walks its type", lifts, wide, narrow)
	}
}
