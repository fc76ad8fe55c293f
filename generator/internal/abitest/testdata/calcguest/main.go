//go:build wasip1

// Command calcguest is a reactor (build with -buildmode=c-shared) exporting
// test:kitchen/calc@0.1.0 through the Go guest bindings wit2host -guest
// generated (../../../calcguest): generated code on the guest side, called
// by the generated host callers (../../../calc). Each function transforms
// its input in a way the host test predicts.
package main

import (
	"slices"
	"strings"

	"github.com/wasitls/wasitls/cabi/witval"
	"github.com/wasitls/wasitls/generator/internal/calcguest/test/kitchen/calc"
	"github.com/wasitls/wasitls/generator/internal/calcguest/test/shared/things"
)

func main() {}

func init() { calc.SetExports(impl{}) }

type impl struct{}

func (impl) Add(a, b uint32) uint32 { return a + b }

func (impl) Extremes(a int8, b uint64, c float32, d rune, e bool, f int16, g float64) witval.Tuple7[int8, uint64, float32, rune, bool, int16, float64] {
	return witval.Tuple7[int8, uint64, float32, rune, bool, int16, float64]{F0: a, F1: b, F2: c, F3: d, F4: e, F5: f, F6: g}
}

func (impl) Shout(s string) string { return strings.ToUpper(s) + "!" }

func (impl) Reverse(b []byte) []byte {
	out := slices.Clone(b)
	slices.Reverse(out)
	return out
}

func (impl) Scale(p calc.Point, k float64) calc.Point {
	return calc.Point{X: int32(float64(p.X) * k), Y: int32(float64(p.Y) * k)}
}

func (impl) Classify(v calc.Value) calc.Value {
	switch v.Tag {
	case calc.ValueTagInt:
		return calc.ValueInt(v.Int * 2)
	case calc.ValueTagReal:
		return calc.ValueReal(-v.Real)
	case calc.ValueTagText:
		return calc.ValueText(v.Text + v.Text)
	case calc.ValueTagAt:
		return calc.ValueAt(calc.Point{X: v.At.Y, Y: v.At.X})
	}
	return calc.ValueNone()
}

func (impl) Lengths(v witval.Option[string]) (uint32, bool) {
	s, ok := v.Get()
	return uint32(len(s)), ok
}

func (impl) Check(v witval.Result[uint32, string]) (uint32, error) {
	n, _, isErr := v.Get()
	switch {
	case isErr:
		return 0, things.ErrorCodeDenied
	case n == 0:
		return 0, things.ErrorCodeNotFound
	}
	return n + 1, nil
}

func (impl) Toggle(o calc.Opts) calc.Opts { return o ^ (calc.OptsTrim | calc.OptsTwice) }

func (impl) Flip(m calc.Mode) calc.Mode {
	if m == calc.ModeUp {
		return calc.ModeDown
	}
	return calc.ModeUp
}

func (impl) Pairs(v []calc.Pair) []calc.Pair {
	out := make([]calc.Pair, len(v))
	for i, p := range v {
		tags := slices.Clone(p.Tags)
		slices.Reverse(tags)
		out[i] = calc.Pair{Name: strings.ToUpper(p.Name), N: p.N + 1, Tags: tags}
	}
	return out
}

func (impl) Triple(v witval.Tuple3[uint8, string, float64]) witval.Tuple3[uint8, string, float64] {
	return witval.Tuple3[uint8, string, float64]{F0: v.F0 + 1, F1: v.F1 + "+", F2: v.F2 * 2}
}

func (impl) Sum17(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16 uint32) uint64 {
	var s uint64
	for _, a := range []uint32{a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16} {
		s += uint64(a)
	}
	return s
}

func (impl) Noop() {}
