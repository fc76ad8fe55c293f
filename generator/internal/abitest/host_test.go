package abitest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/kitchen/test/kitchen/echo"
	"github.com/wasitls/wasitls/generator/internal/kitchen/test/shared/things"
)

// host implements echo.Host and things.Host. It echoes every value back and
// records the compound values it received, so that the test can compare
// them with what the guest encoded: a lifting bug mirrored by a lowering bug
// would survive the echo alone.
type host struct {
	quiet bool // records nothing (benchmarks)
	mu    sync.Mutex
	got   map[string][]any
	live  atomic.Int64 // resources created and not yet dropped
	calls atomic.Int64 // calls of the methods a hostile guest reaches
}

func newHost() *host { return &host{got: map[string][]any{}} }

// enter counts a call, so that a test can tell that a faulty call never
// reached the host.
func (h *host) enter() { h.calls.Add(1) }

func (h *host) record(fn string, v any) {
	h.enter()
	if h.quiet {
		return
	}
	h.mu.Lock()
	h.got[fn] = append(h.got[fn], v)
	h.mu.Unlock()
}

type counter struct {
	h       *host
	n       uint32
	dropped atomic.Bool
}

func (h *host) newCounter(n uint32) *counter {
	h.live.Add(1)
	return &counter{h: h, n: n}
}

func (c *counter) Drop() {
	if c.dropped.Swap(true) {
		panic("counter dropped twice")
	}
	c.h.live.Add(-1)
}

func (c *counter) Get(ctx context.Context) uint32 { return c.n }

func (c *counter) View(ctx context.Context) things.CounterView {
	c.h.live.Add(1)
	return &view{parent: c}
}

type view struct {
	parent  *counter
	dropped atomic.Bool
}

func (v *view) Drop() {
	if v.dropped.Swap(true) {
		panic("view dropped twice")
	}
	v.parent.h.live.Add(-1)
}

func (v *view) ResourceParent() cabi.Resource   { return v.parent }
func (v *view) Peek(ctx context.Context) uint32 { return v.parent.n }
func (h *host) NewCounter(ctx context.Context, start uint32) things.Counter {
	return h.newCounter(start)
}

func (h *host) CounterMake(ctx context.Context, start uint32, fail bool) (things.Counter, error) {
	return h.MakeCounter(ctx, start, fail)
}

func (h *host) EchoBool(ctx context.Context, v bool) bool              { return v }
func (h *host) EchoS8(ctx context.Context, v int8) int8                { return v }
func (h *host) EchoU8(ctx context.Context, v uint8) uint8              { return v }
func (h *host) EchoS16(ctx context.Context, v int16) int16             { return v }
func (h *host) EchoU16(ctx context.Context, v uint16) uint16           { return v }
func (h *host) EchoS32(ctx context.Context, v int32) int32             { return v }
func (h *host) EchoS64(ctx context.Context, v int64) int64             { return v }
func (h *host) EchoU64(ctx context.Context, v uint64) uint64           { return v }
func (h *host) EchoF32(ctx context.Context, v float32) float32         { return v }
func (h *host) EchoF64(ctx context.Context, v float64) float64         { return v }
func (h *host) EchoChar(ctx context.Context, v rune) rune              { h.enter(); return v }
func (h *host) EchoColor(ctx context.Context, v echo.Color) echo.Color { h.enter(); return v }
func (h *host) EchoSmall(ctx context.Context, v echo.Small) echo.Small { return v }

func (h *host) EchoU32(ctx context.Context, v uint32) uint32 {
	h.enter()
	if v == 0xDEAD {
		panic("the host implementation failed")
	}
	return v
}

func (h *host) EchoString(ctx context.Context, v string) string {
	h.record("string", v)
	return v
}

func (h *host) EchoBytes(ctx context.Context, v echo.Bytes) echo.Bytes {
	h.record("bytes", len(v))
	return v
}

func (h *host) EchoStrings(ctx context.Context, v []string) []string {
	h.record("strings", v)
	return v
}

func (h *host) EchoItems(ctx context.Context, v []echo.Item) []echo.Item {
	h.record("items", v)
	return v
}

func (h *host) EchoPrims(ctx context.Context, v echo.Prims) echo.Prims {
	h.record("prims", v)
	return v
}

func (h *host) EchoPoint(ctx context.Context, v echo.Point) echo.Point {
	h.record("point", v)
	return v
}

func (h *host) EchoWide(ctx context.Context, v echo.Wide) echo.Wide {
	h.record("wide", v)
	return v
}

func (h *host) EchoHuge(ctx context.Context, v echo.Huge) echo.Huge {
	h.record("huge", v)
	return v
}

func (h *host) EchoShape(ctx context.Context, v echo.Shape) echo.Shape {
	h.record("shape", v)
	return v
}

func (h *host) EchoShapes(ctx context.Context, v []echo.Shape) []echo.Shape {
	h.record("shapes", v)
	return v
}

func (h *host) EchoOption(ctx context.Context, v cabi.Option[string]) (string, bool) {
	h.record("option", v)
	return v.Get()
}

func (h *host) EchoResult(ctx context.Context, v cabi.Result[uint32, string]) (uint32, error) {
	h.record("result", v)
	if v.IsErr() {
		return 0, errors.New(v.ErrValue())
	}
	return v.Value(), nil
}

func (h *host) EchoResultOK(ctx context.Context, v cabi.Result[uint32, cabi.Unit]) (uint32, error) {
	if v.IsErr() {
		return 0, errors.New("any error")
	}
	return v.Value(), nil
}

func (h *host) EchoResultErr(ctx context.Context, v cabi.Result[cabi.Unit, echo.ErrorCode]) error {
	if v.IsErr() {
		return v.ErrValue()
	}
	return nil
}

func (h *host) EchoResultEmpty(ctx context.Context, v cabi.Result[cabi.Unit, cabi.Unit]) error {
	if v.IsErr() {
		return errors.New("any error")
	}
	return nil
}

func (h *host) EchoTuple(ctx context.Context, v cabi.Tuple3[uint8, string, float64]) cabi.Tuple3[uint8, string, float64] {
	h.record("tuple", v)
	return v
}

func (h *host) EchoNested(ctx context.Context, v cabi.Option[cabi.Result[[]cabi.Option[uint16], echo.Shape]]) (cabi.Result[[]cabi.Option[uint16], echo.Shape], bool) {
	h.record("nested", v)
	return v.Get()
}

func (h *host) TotalLen(ctx context.Context, v [][]byte) uint32 {
	h.enter()
	var n uint32
	for _, b := range v {
		n += uint32(len(b))
	}
	return n
}

func (h *host) Sum17(ctx context.Context, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16 uint32) uint64 {
	h.enter()
	var s uint64
	for _, a := range []uint32{a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16} {
		s += uint64(a)
	}
	return s
}

func (h *host) MakeCounter(ctx context.Context, start uint32, fail bool) (echo.Counter, error) {
	h.enter()
	switch {
	case start == 666:
		return nil, errors.New("not an error-code")
	case fail:
		return nil, things.ErrorCodeDenied
	}
	return h.newCounter(start), nil
}

func (h *host) TakeCounter(ctx context.Context, c echo.Counter) uint32 {
	defer c.Drop() // own: the host drops it
	return c.Get(ctx)
}

func (h *host) PeekCounter(ctx context.Context, c echo.Counter) uint32 {
	h.enter()
	return c.Get(ctx)
}

func (h *host) Merge(ctx context.Context, a, b echo.Counter) uint32 {
	h.enter()
	defer b.Drop()
	return a.Get(ctx) + b.Get(ctx)
}

// SumCounters, TakeMaybe and DescribeTagged take handles inside their
// arguments: borrows in a list and a record, an own in an option.
func (h *host) SumCounters(ctx context.Context, cs []echo.Counter) uint32 {
	h.record("sum-counters", len(cs))
	var n uint32
	for _, c := range cs {
		n += c.Get(ctx)
	}
	return n
}

func (h *host) TakeMaybe(ctx context.Context, c cabi.Option[echo.Counter]) uint32 {
	h.enter()
	x, ok := c.Get()
	if !ok {
		return 0
	}
	defer x.Drop() // own: the host drops it
	return x.Get(ctx)
}

// TakeAll owns every counter of the list: it drops each.
func (h *host) TakeAll(ctx context.Context, cs []echo.Counter) uint32 {
	h.record("take-all", len(cs))
	var n uint32
	for _, c := range cs {
		n += c.Get(ctx)
		c.Drop()
	}
	return n
}

func (h *host) DescribeTagged(ctx context.Context, t echo.Tagged) string {
	h.record("describe-tagged", t.Name)
	return t.Name + ":" + strconv.FormatUint(uint64(t.C.Get(ctx)), 10)
}

func (h *host) Counters(ctx context.Context, n uint32) []echo.Counter {
	h.enter()
	out := make([]echo.Counter, n)
	for i := range out {
		out[i] = h.newCounter(uint32(i))
	}
	return out
}
