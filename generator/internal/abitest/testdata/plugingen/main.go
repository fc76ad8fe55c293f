//go:build wasip1

// Command plugingen is the plugin guest of testdata/plugin written against
// the generated guest bindings (internal/pluginguest): the same answers,
// its widget implemented through WidgetImpl. Build with
// -buildmode=c-shared.
package main

import (
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/wasitls/wasitls/cabi/witval"
	"github.com/wasitls/wasitls/generator/internal/pluginguest/test/kitchen/plugin"
	"github.com/wasitls/wasitls/generator/internal/pluginguest/test/shared/things"
)

func main() {}

func init() { plugin.SetExports(exports{}) }

type exports struct{}

var destroyed uint32

func (exports) Add(a, b uint32) uint32 { return a + b }
func (exports) Shout(s string) string  { return strings.ToUpper(s) + "!" }

func (exports) Reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

func (exports) Scale(p plugin.Point, k float64) plugin.Point {
	return plugin.Point{X: int32(float64(p.X) * k), Y: int32(float64(p.Y) * k)}
}

func (exports) Classify(v plugin.Value) plugin.Value {
	switch v.Tag {
	case plugin.ValueTagNone:
		return plugin.ValueText("none")
	case plugin.ValueTagInt:
		return plugin.ValueReal(float32(v.Int) / 2)
	case plugin.ValueTagReal:
		return plugin.ValueInt(int64(v.Real * 10))
	}
	return plugin.ValueInt(int64(len(v.Text)))
}

func (exports) Lengths(v witval.Option[string]) (uint32, bool) {
	s, ok := v.Get()
	return uint32(len(s)), ok
}

func (exports) Check(v witval.Result[uint32, string]) (uint32, error) {
	n, s, isErr := v.Get()
	switch {
	case !isErr:
		return n + 1, nil
	case s == "missing":
		return 0, things.ErrorCodeNotFound
	}
	return 0, things.ErrorCodeDenied
}

func (exports) Toggle(p plugin.Perms) plugin.Perms { return p ^ 0b111 }

func (exports) ToggleMany(m plugin.Many) plugin.Many {
	return plugin.Many{^m[0], ^m[1], ^m[2] & (1<<6 - 1)}
}

func (exports) Next(c plugin.Color) plugin.Color { return (c + 1) % 3 }

func (exports) Pairs(v []plugin.Pair) []plugin.Pair {
	out := make([]plugin.Pair, len(v))
	for i, p := range v {
		out[len(v)-1-i] = plugin.Pair{Name: p.Name, N: p.N * 2}
	}
	return out
}

func (exports) Triple(v witval.Tuple3[uint8, string, float64]) witval.Tuple3[uint8, string, float64] {
	return witval.Tuple3[uint8, string, float64]{F0: v.F0 + 1, F1: v.F1 + v.F1, F2: -v.F2}
}

func (exports) Sum17(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16 uint32) uint64 {
	var s uint64
	for i, a := range []uint32{a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16} {
		s += uint64(a) * uint64(i+1)
	}
	return s
}

func (exports) Consume(c plugin.Counter) uint32 {
	n := c.Get()
	c.Drop()
	return n
}

func (exports) Mint(start uint32) plugin.Counter { return things.NewCounter(start * 10) }

// PostReturns cannot count what the generated cabi_post_ functions do.
func (exports) PostReturns() uint32 { return 0 }

func (exports) Quit(code uint32) { os.Exit(int(code)) }

func (exports) BadPointer() string { return "" }

func (exports) NewWidget(name string, n uint32) plugin.Widget {
	return plugin.WidgetOf(&widget{name: name, n: n})
}

func (exports) WidgetFromCounter(c plugin.CounterBorrow, name string) plugin.Widget {
	return plugin.WidgetOf(&widget{name: name, n: c.Get()})
}

func (exports) WidgetDestroyed() uint32 { return destroyed }

func (exports) Absorb(w plugin.Widget) uint32 {
	n := w.Impl().(*widget).n
	w.Drop()
	return n
}

func (exports) Split(w plugin.WidgetImpl, n uint32) []plugin.Widget {
	src := w.(*widget)
	out := make([]plugin.Widget, n)
	for i := range out {
		out[i] = plugin.WidgetOf(&widget{name: src.name + "/" + strconv.Itoa(i), n: src.n})
	}
	return out
}

func (exports) Peek(c plugin.CounterBorrow) uint32       { return c.Get() }
func (exports) KeepBorrow(c plugin.CounterBorrow) uint32 { return c.Get() }
func (exports) BadHandle() plugin.Widget                 { return plugin.Widget(0x7777) }

// RepOfCounter is hostile in the hand-written guest only.
func (exports) RepOfCounter(c plugin.CounterBorrow) uint32 { return c.Get() }

// Borrows nested in arguments: the implementation reads them, the glue
// ends every one.

func (exports) SumCounters(cs []plugin.CounterBorrow) uint32 {
	var n uint32
	for _, c := range cs {
		n += c.Get()
	}
	return n
}

func (exports) PeekMaybe(c witval.Option[plugin.CounterBorrow]) (uint32, bool) {
	if x, ok := c.Get(); ok {
		return x.Get(), true
	}
	return 0, false
}

func (exports) DescribeTagged(t plugin.Tagged) string {
	return t.Name + ":" + strconv.FormatUint(uint64(t.C.Get()), 10)
}

func (exports) PeekLender(l plugin.Lender) uint32 {
	switch l.Tag {
	case plugin.LenderTagOne:
		return l.One.Get()
	case plugin.LenderTagTwo:
		return l.Two.F0.Get() + l.Two.F1.Get()
	}
	return 100
}

func (exports) PeekEither(v witval.Result[plugin.CounterBorrow, witval.Tuple2[plugin.CounterBorrow, plugin.CounterBorrow]]) uint32 {
	c, pair, isErr := v.Get()
	if isErr {
		return pair.F0.Get() - pair.F1.Get()
	}
	return c.Get()
}

// KeepNested is hostile in the hand-written guest only: here the glue ends
// every borrow whatever the implementation does with them.
func (e exports) KeepNested(cs []plugin.CounterBorrow) uint32 { return e.SumCounters(cs) }

// DropTwice drops the borrow itself, and the glue drops it again: hostile.
func (exports) DropTwice(c witval.Option[plugin.CounterBorrow]) uint32 {
	x, ok := c.Get()
	if !ok {
		return 0
	}
	things.Counter(x).Drop()
	return 1
}

// Shuffle sums the counters, then reorders and overwrites the lists it
// was lent and clears t's borrow: the glue ends the borrows it recorded as
// it lifted them, not what the lists hold now.
func (exports) Shuffle(cs []plugin.CounterBorrow, c plugin.Crowd, t plugin.Tagged) uint32 {
	var n uint32
	for _, x := range append(append([]plugin.CounterBorrow{t.C}, cs...), c.Cs...) {
		n += x.Get()
	}
	slices.Reverse(cs)
	if len(cs) > 1 {
		cs[0] = cs[1] // one lent handle twice, another gone
	}
	for i := range c.Cs {
		c.Cs[i] = 0
	}
	t.C = 0
	return n
}

// DescribeAll and PeekWidget take borrows of the guest's own widgets
// nested in a list and an option: the glue hands over the implementations.
func (exports) DescribeAll(ws []plugin.WidgetImpl) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Describe())
	}
	return strings.Join(out, ",")
}

func (exports) PeekWidget(w witval.Option[plugin.WidgetImpl]) uint32 {
	if x, ok := w.Get(); ok {
		return x.(*widget).n
	}
	return 0
}

// Mallocs reports the Go runtime's count of heap allocations.
func (exports) Mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// widget implements plugin.WidgetImpl.
type widget struct {
	name string
	n    uint32
}

func (w *widget) Describe() string { return w.name + ":" + strconv.FormatUint(uint64(w.n), 10) }

func (w *widget) Bump(k uint32) uint32 {
	w.n += k
	return w.n
}

func (w *widget) Twin() plugin.Widget { return plugin.WidgetOf(&widget{name: w.name, n: 2 * w.n}) }

func (w *widget) Same(other plugin.WidgetImpl) bool { return w.n == other.(*widget).n }

// Drop is the destructor. A widget named "boom" traps in it, by calling
// an import with a handle that does not exist.
func (w *widget) Drop() {
	destroyed++
	if w.name == "boom" {
		things.CounterBorrow(0).Get()
	}
}
