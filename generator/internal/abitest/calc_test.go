package abitest

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/calc/test/kitchen/calc"
	"github.com/wasitls/wasitls/generator/internal/calc/test/shared/things"
	"github.com/wasitls/wasitls/internal/guestbuild"
)

// TestGeneratedGuestExports instantiates testdata/calcguest, whose exports
// are the //go:wasmexport functions wit2host -guest generated, and calls
// every one through the generated host callers with values of every kind:
// generated code on both sides, the host's post-return calls included.
func TestGeneratedGuestExports(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	ctx, inst, mod := instantiateReactor(t, ctx, r, "./testdata/calcguest")
	x, err := calc.Bind(inst, mod, "")
	if err != nil {
		t.Fatal(err)
	}
	checkCalc(t, ctx, x)
}

// checkCalc calls every export of test:kitchen/calc through x, twice, with
// values of every kind, checking each answer of a guest that transforms its
// input as testdata/calcguest does.
func checkCalc(t *testing.T, ctx context.Context, x *calc.Exports) {
	t.Helper()
	check := func(what string, got, want any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !reflect.DeepEqual(got, want) {
			g, w := []rune(reflectString(got)), []rune(reflectString(want))
			t.Errorf("%s = %s, want %s", what, string(g[:min(len(g), 200)]), string(w[:min(len(w), 200)]))
		}
	}

	// Twice over: the second round runs on the memory the first released.
	for range 2 {
		n, err := x.Add(ctx, math.MaxUint32, 2)
		check("add", n, uint32(1), err)
		ex, err := x.Extremes(ctx, math.MinInt8, math.MaxUint64, math.Float32frombits(0x7FC00001), 0x10FFFF, true, math.MinInt16, -math.MaxFloat64)
		if err == nil && math.Float32bits(ex.F2) != 0x7FC00001 {
			t.Errorf("extremes: f32 NaN payload %#x", math.Float32bits(ex.F2))
		}
		ex.F2 = 0
		check("extremes", ex, cabi.Tuple7[int8, uint64, float32, rune, bool, int16, float64]{F0: math.MinInt8, F1: math.MaxUint64, F3: 0x10FFFF, F4: true, F5: math.MinInt16, F6: -math.MaxFloat64}, err)
		for _, s := range []string{"", "héllo wörld ✓ 😀", strings.Repeat("x", 64<<10)} {
			got, err := x.Shout(ctx, s)
			check("shout", got, strings.ToUpper(s)+"!", err)
		}
		for _, b := range [][]byte{{}, {1}, make([]byte, 64<<10)} {
			for i := range b {
				b[i] = byte(i * 7)
			}
			want := slices.Clone(b)
			slices.Reverse(want)
			got, err := x.Reverse(ctx, b)
			if len(want) == 0 && len(got) == 0 {
				got = want
			}
			check("reverse", got, want, err)
		}
		p, err := x.Scale(ctx, things.Point{X: -3, Y: 1 << 20}, 2.5)
		check("scale", p, things.Point{X: -7, Y: 5 << 19}, err)
		for _, c := range []struct{ in, want calc.Value }{
			{calc.ValueNone(), calc.ValueNone()},
			{calc.ValueInt(math.MinInt64 + 1), calc.ValueInt(2)},
			{calc.ValueInt(21), calc.ValueInt(42)},
			{calc.ValueReal(1.5), calc.ValueReal(-1.5)},
			{calc.ValueText("ab✓"), calc.ValueText("ab✓ab✓")},
			{calc.ValueAt(things.Point{X: 1, Y: -2}), calc.ValueAt(things.Point{X: -2, Y: 1})},
		} {
			got, err := x.Classify(ctx, c.in)
			check("classify "+c.in.Tag.String(), got, c.want, err)
		}
		l, err := x.Lengths(ctx, cabi.Some("héllo"))
		check("lengths some", l, cabi.Some[uint32](6), err)
		l, err = x.Lengths(ctx, cabi.None[string]())
		check("lengths none", l, cabi.None[uint32](), err)
		r, err := x.Check(ctx, cabi.OK[uint32, string](41))
		check("check ok", r, cabi.OK[uint32, things.ErrorCode](42), err)
		r, err = x.Check(ctx, cabi.OK[uint32, string](0))
		check("check not-found", r, cabi.Err[uint32](things.ErrorCodeNotFound), err)
		r, err = x.Check(ctx, cabi.Err[uint32]("bad"))
		check("check denied", r, cabi.Err[uint32](things.ErrorCodeDenied), err)
		o, err := x.Toggle(ctx, calc.OptsTrim|calc.OptsUpper)
		check("toggle", o, calc.OptsUpper|calc.OptsTwice, err)
		m, err := x.Flip(ctx, calc.ModeUp)
		check("flip", m, calc.ModeDown, err)
		pairs := []calc.Pair{{Name: "ä", N: 1, Tags: []string{"x", "", "y"}}, {Name: "", N: math.MaxUint32, Tags: []string{}}}
		got, err := x.Pairs(ctx, pairs)
		check("pairs", got, []calc.Pair{{Name: "Ä", N: 2, Tags: []string{"y", "", "x"}}, {Name: "", N: 0, Tags: []string{}}}, err)
		tri, err := x.Triple(ctx, cabi.Tuple3[uint8, string, float64]{F0: 254, F1: "tü", F2: -0.25})
		check("triple", tri, cabi.Tuple3[uint8, string, float64]{F0: 255, F1: "tü+", F2: -0.5}, err)
		var a [17]uint32
		var sum uint64
		for i := range a {
			a[i] = math.MaxUint32 - uint32(i)
			sum += uint64(a[i])
		}
		s, err := x.Sum17(ctx, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16])
		check("sum17 (spilled parameters)", s, sum, err)
		check("noop", nil, nil, x.Noop(ctx))
	}
}

// instantiateReactor builds the Go reactor at dir (-buildmode=c-shared),
// instantiates it under a fresh cabi.Instance, runs _initialize and binds
// the instance to it; the returned context carries the instance.
func instantiateReactor(t testing.TB, ctx context.Context, r wazero.Runtime, dir string) (context.Context, *cabi.Instance, api.Module) {
	t.Helper()
	wasm := guestbuild.MustBuild(t, dir, "-buildmode=c-shared")
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	inst := cabi.NewInstance()
	ctx = cabi.WithInstance(ctx, inst)
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Bind(mod); err != nil {
		t.Fatal(err)
	}
	return ctx, inst, mod
}

func reflectString(v any) string { return fmt.Sprintf("%+v", v) }
