package component

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// i32Store stores the i32 v at address p.
func i32Store(p, v int32) []byte {
	return cat(wasmbin.I32Const(p), wasmbin.I32Const(v), []byte{0x36, 0x02, 0x00})
}

// liftedComponent is a component exporting "f", a function of no
// parameters (or one own<R> parameter, with imported, of the resource an
// import "test:x/y" declares as "r") whose result is the last of types,
// lifted from a core function with body (its instructions; the core
// function takes an i32 when imported) and the post-return "post" when
// post is set: post traps.
func liftedComponent(types [][]byte, imported bool, body []byte, post bool) []byte {
	coreType := []byte{0x60, 0x00, 0x01, 0x7f}
	if imported {
		coreType = []byte{0x60, 0x01, 0x7f, 0x01, 0x7f}
	}
	fbody := cat([]byte{0x00}, body, []byte{0x0b})
	pbody := []byte{0x00, 0x00, 0x0b}
	mod := core(
		section(1, vec(coreType, []byte{0x60, 0x01, 0x7f, 0x00})),
		section(3, vec(u32(0), u32(1))),
		section(5, vec([]byte{0x00, 0x01})),
		section(7, vec(cat(name("f"), []byte{0x00}, u32(0)), cat(name("post"), []byte{0x00}, u32(1)),
			cat(name("memory"), []byte{0x02}, u32(0)))),
		section(10, vec(cat(u32(uint32(len(fbody))), fbody), cat(u32(uint32(len(pbody))), pbody))),
	)
	var secs [][]byte
	first := 0 // the index of types[0]
	var params [][]byte
	if imported {
		it := cat([]byte{0x42}, vec(cat([]byte{0x04, 0x00}, name("r"), []byte{0x03, 0x01})))
		secs = append(secs,
			section(secType, vec(it)),
			section(secImport, vec(cat([]byte{0x00}, name("test:x/y"), []byte{0x05}, u32(0)))),
			section(secAlias, vec(cat([]byte{0x03, 0x00}, u32(0), name("r")))), // type 1
			section(secType, vec([]byte{0x69, 0x01})),                          // type 2: own<r>
		)
		first = 3
		params = append(params, cat(name("h"), vidx(2)))
	}
	last := first + len(types) - 1
	opts := [][]byte{cat([]byte{0x03}, u32(0))}
	if post {
		opts = append(opts, cat([]byte{0x05}, u32(1)))
	}
	secs = append(secs,
		section(secCoreModule, mod),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(0), name("f")),
			cat([]byte{0x00, 0x00, 0x01}, u32(0), name("post")),
			cat([]byte{0x00, 0x02, 0x01}, u32(0), name("memory")),
		)),
		section(secType, vec(append(types, cat([]byte{0x40}, vec(params...), []byte{0x00}, vidx(last)))...)),
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(0), vec(opts...), u32(uint32(last+1))))),
		section(secExport, vec(cat([]byte{0x00}, name("f"), []byte{0x01}, u32(0), []byte{0x00}))),
	)
	return comp(secs...)
}

// exportF instantiates b and returns its export "f".
func exportF(t *testing.T, b []byte) (*Instance, *Func) {
	t.Helper()
	inst, err := instantiate(t, b, trapLinker{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := inst.Func("f")
	if err != nil {
		t.Fatal(err)
	}
	return inst, f
}

// TestHostileResults checks that what an export returns that cannot be
// lifted is the call's error, that the instance refuses later calls, and
// that nothing it returned is lost: a resource it handed back before the
// fault is dropped, not left to no one.
func TestHostileResults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		types [][]byte
		body  []byte
		post  bool
		want  string
	}{
		{"enum-out-of-range", [][]byte{{0x6d, 0x02, 0x01, 'a', 0x01, 'b'}}, wasmbin.I32Const(2), false, "bad discriminant"},
		{"char-surrogate", [][]byte{{0x74}}, wasmbin.I32Const(0xd800), false, "invalid char"},
		{"char-too-large", [][]byte{{0x74}}, wasmbin.I32Const(0x110000), false, "invalid char"},
		{"string-out-of-bounds", [][]byte{{0x73}}, cat(i32Store(8, 0xfff0), i32Store(12, 0x20), wasmbin.I32Const(8)), false, "out-of-bounds"},
		{"string-wraps", [][]byte{{0x73}}, cat(i32Store(8, -16), i32Store(12, 0x20), wasmbin.I32Const(8)), false, "out-of-bounds"},
		{"string-invalid-utf8", [][]byte{{0x73}}, cat(i32Store(8, 0), i32Store(12, 4), i32Store(0, -1), wasmbin.I32Const(8)), false, "invalid UTF-8"},
		{"list-overflows", [][]byte{{0x70, 0x77}}, cat(i32Store(8, 0), i32Store(12, 0x2000_0001), wasmbin.I32Const(8)), false, "overflows"},
		{"misaligned", [][]byte{{0x73}}, wasmbin.I32Const(9), false, "misaligned"},
		{"post-return-traps", [][]byte{{0x79}}, wasmbin.I32Const(1), true, "post-return"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, f := exportF(t, liftedComponent(tc.types, false, tc.body, tc.post))
			ctx := context.Background()
			if v, err := f.Call(ctx); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Call = %v, %v, want an error saying %q", v, err, tc.want)
			}
			if _, err := f.Call(ctx); err == nil || !strings.Contains(err.Error(), "trapped before") {
				t.Fatalf("a second call = %v, want the faulted instance's refusal", err)
			}
			inst.Close(ctx)
		})
	}
}

// TestFlagsUnknownBits checks that a flags result with bits beyond its
// labels lifts to the bits of its labels, flat and in memory, as the
// Canonical ABI says (unpack_flags_from_int reads one bit per label) and
// the generated glue does: the call succeeds and the instance stays
// usable. Before, Func.Call failed the call and poisoned the instance,
// where the generated callers of the same export returned the masked
// value.
func TestFlagsUnknownBits(t *testing.T) {
	flags3 := []byte{0x6e, 0x03, 0x01, 'a', 0x01, 'b', 0x01, 'c'}
	for _, tc := range []struct {
		name  string
		types [][]byte
		body  []byte
		want  any
	}{
		{"flat", [][]byte{flags3}, wasmbin.I32Const(0x7ffffff5), uint32(5)},
		// tuple<flags3, flags3> in memory at 8: the bytes 0xf6, 0xfb.
		{"memory", [][]byte{flags3, cat([]byte{0x6f}, vec(vidx(0), vidx(0)))}, cat(i32Store(8, 0xfbf6), wasmbin.I32Const(8)), []any{uint32(6), uint32(3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, f := exportF(t, liftedComponent(tc.types, false, tc.body, false))
			ctx := context.Background()
			defer inst.Close(ctx)
			for range 2 {
				if v, err := f.Call(ctx); err != nil || fmt.Sprint(v) != fmt.Sprint(tc.want) {
					t.Fatalf("Call = %v, %v, want %v", v, err, tc.want)
				}
			}
		})
	}
}

// dropCounter is a host resource that counts its drops.
type dropCounter struct{ drops *int }

func (d dropCounter) Drop() { *d.drops++ }

// TestHostileResultsDropHandles checks that a host resource an export
// hands back is dropped, not lost, when the call fails after taking it
// from the table: in a result that then fails to lift (a tuple of the
// resource and an invalid char), or one whose post-return traps.
func TestHostileResultsDropHandles(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  []byte
		body []byte
		post bool
		want string
	}{
		// type 3: tuple<own<r>, char>; the core function stores its
		// handle argument and a surrogate at 16 and returns 16.
		{"unliftable", cat([]byte{0x6f, 0x02}, vidx(2), []byte{0x74}),
			cat(wasmbin.I32Const(16), []byte{0x20, 0x00, 0x36, 0x02, 0x00}, i32Store(20, 0xd800), wasmbin.I32Const(16)), false, "invalid char"},
		// type 3: own<r>, returned as it came.
		{"post-return-traps", []byte{0x69, 0x01}, []byte{0x20, 0x00}, true, "post-return"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, f := exportF(t, liftedComponent([][]byte{tc.typ}, true, tc.body, tc.post))
			ctx := context.Background()
			drops := 0
			hr := HostResource{Type: cabi.NewResourceType("test:x/y.r"), Value: dropCounter{&drops}}
			if v, err := f.Call(ctx, hr); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Call = %v, %v, want an error saying %q", v, err, tc.want)
			}
			inst.Close(ctx)
			if drops != 1 {
				t.Fatalf("the resource handed back was dropped %d times, want once", drops)
			}
		})
	}
}

// reallocComponent exports "f", func(s: string) -> u32, lifted with a
// realloc whose body is realloc.
func reallocComponent(realloc []byte) []byte {
	fbody := cat([]byte{0x00}, wasmbin.I32Const(0), []byte{0x0b})
	rbody := cat([]byte{0x00}, realloc, []byte{0x0b})
	mod := core(
		section(1, vec([]byte{0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f}, []byte{0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f})),
		section(3, vec(u32(0), u32(1))),
		section(5, vec([]byte{0x00, 0x01})),
		section(7, vec(cat(name("f"), []byte{0x00}, u32(0)), cat(name("realloc"), []byte{0x00}, u32(1)),
			cat(name("memory"), []byte{0x02}, u32(0)))),
		section(10, vec(cat(u32(uint32(len(fbody))), fbody), cat(u32(uint32(len(rbody))), rbody))),
	)
	return comp(
		section(secCoreModule, mod),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(0), name("f")),
			cat([]byte{0x00, 0x00, 0x01}, u32(0), name("realloc")),
			cat([]byte{0x00, 0x02, 0x01}, u32(0), name("memory")),
		)),
		section(secType, vec(cat([]byte{0x40}, vec(cat(name("s"), []byte{0x73})), []byte{0x00, 0x79}))),
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(0), vec(cat([]byte{0x03}, u32(0)), cat([]byte{0x04}, u32(1))), u32(0)))),
		section(secExport, vec(cat([]byte{0x00}, name("f"), []byte{0x01}, u32(0), []byte{0x00}))),
	)
}

// TestHostileRealloc checks that a realloc returning memory the host
// cannot write an argument to (past the end, wrapping past 4 GiB) or
// trapping is the call's error, and poisons the instance.
func TestHostileRealloc(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"past-end", wasmbin.I32Const(0xfffe), "out-of-bounds"},
		{"wraps", wasmbin.I32Const(-2), "out-of-bounds"},
		{"traps", []byte{0x00}, "realloc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, f := exportF(t, reallocComponent(tc.body))
			ctx := context.Background()
			if v, err := f.Call(ctx, "hello"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Call = %v, %v, want an error saying %q", v, err, tc.want)
			}
			if _, err := f.Call(ctx, "hello"); err == nil || !strings.Contains(err.Error(), "trapped before") {
				t.Fatalf("a second call = %v, want the faulted instance's refusal", err)
			}
			inst.Close(ctx)
		})
	}
}

// payloadless is a variant type of n cases without payload, each named "".
func payloadless(n int) []byte {
	b := cat([]byte{0x71}, u32(uint32(n)))
	for range n {
		b = append(b, 0x00, 0x00, 0x00) // name, no payload, no refines
	}
	return b
}

// TestLiftListOfVariants checks that lifting a list costs the host what
// the list's bytes do, not its length times its element type's nodes:
// before, every element of a list<variant> of a thousand cases laid out
// the type anew (its size, its alignment, a slice of its cases, each
// walking every case), so a result of a few KiB of guest memory cost the
// host hundreds of MiB of garbage and seconds of CPU, which the call's
// context cannot stop. It now allocates a small multiple of the guest
// memory (what the results hold on the host), measured as bytes
// allocated, not time.
func TestLiftListOfVariants(t *testing.T) {
	const cases, elems = 1000, 8192 // two bytes each, at 1024
	b := liftedComponent([][]byte{payloadless(cases), cat([]byte{0x70}, vidx(0))}, false,
		cat(i32Store(8, 1024), i32Store(12, elems), i32Store(1024+2*(elems-1), cases-1), wasmbin.I32Const(8)), false)
	inst, f := exportF(t, b)
	ctx := context.Background()
	defer inst.Close(ctx)
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	v, err := f.Call(ctx)
	goruntime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := v.([]any); !ok || len(l) != elems || l[elems-1] != (Variant{Case: cases - 1}) {
		t.Fatalf("Call = %T of %d, want %d variants, the last case %d", v, len(l), elems, cases-1)
	}
	bound := 4 * cabi.LiftBudget(65536)
	if n := after.TotalAlloc - before.TotalAlloc; n > bound {
		t.Fatalf("lifting %d bytes of variants allocated %d bytes, want at most %d", 2*elems, n, bound)
	}
}

// manyLowers is a component that lowers wasi:cli/exit's exit n times with
// the same options, four bytes each, and instantiates a core module
// importing the last.
func manyLowers(n int) []byte {
	lowers := make([][]byte, n)
	for i := range lowers {
		lowers[i] = cat([]byte{0x01, 0x00}, u32(0), vec())
	}
	mod := core(
		section(1, vec([]byte{0x60, 0x01, 0x7f, 0x00})),
		section(2, vec(cat(name("m"), name("f"), []byte{0x00}, u32(0)))),
	)
	exit := exitComponent("0.2.0", "exit")
	return cat(exit[:len(exit)-len(section(secCanon, vec(lowers[0])))],
		section(secCanon, vec(lowers...)),
		section(secCoreModule, mod),
		section(secCoreInstance, vec(cat([]byte{0x01}, vec(cat(name("f"), []byte{0x00}, u32(uint32(n-1))))))),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec(cat(name("m"), []byte{0x12}, u32(0)))))),
	)
}

// TestLowersShareHostFunction checks that lowering one import again with
// the same options makes no new host function: before, each of a
// thousand lowers of four bytes was a function of the host module wazero
// compiled, at some tens of microseconds each (seconds for 240 KB of
// component). Counted as the functions the modules export, not timed.
func TestLowersShareHostFunction(t *testing.T) {
	inst, err := instantiate(t, manyLowers(1000), trapLinker{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	funcs := 0
	for _, m := range inst.state.modules {
		funcs += len(m.ExportedFunctionDefinitions())
	}
	if funcs > 2 {
		t.Fatalf("the instance's modules export %d functions, want the lowered exit once (and its re-export)", funcs)
	}
}
