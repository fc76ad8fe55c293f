package abitest

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/plugin/test/kitchen/plugin"
	"github.com/wasitls/wasitls/generator/internal/plugin/test/shared/things"
)

// pluginHost serves test:shared/things to the plugin guest and counts the
// counters alive, so the test sees ownership cross both ways.
type pluginHost struct{ live atomic.Int64 }

type pluginCounter struct {
	h       *pluginHost
	n       uint32
	onGet   func() // called from Get, inside the guest's call of Get
	dropped atomic.Bool
}

func (h *pluginHost) NewCounter(ctx context.Context, start uint32) things.Counter {
	h.live.Add(1)
	return &pluginCounter{h: h, n: start}
}

func (h *pluginHost) CounterMake(ctx context.Context, start uint32, fail bool) (things.Counter, error) {
	return h.NewCounter(ctx, start), nil
}

func (c *pluginCounter) Get(context.Context) uint32 {
	if c.onGet != nil {
		c.onGet()
	}
	return c.n
}

func (c *pluginCounter) View(context.Context) things.CounterView { panic("not used") }

func (c *pluginCounter) Drop() {
	if c.dropped.Swap(true) {
		panic("counter dropped twice")
	}
	c.h.live.Add(-1)
}

// pluginGuest instantiates the plugin reactor and binds its exports.
type pluginGuest struct {
	h    *pluginHost
	inst *cabi.Instance
	mod  api.Module
	x    *plugin.Exports
	ctx  context.Context
	hand bool // the hand-written guest, which counts its post-returns
}

func newPluginGuest(t testing.TB) *pluginGuest { return newPluginGuestFrom(t, handPlugin) }

// The plugin guests: the Canonical ABI written by hand, and the same
// answers on the generated guest bindings.
const (
	handPlugin = "./testdata/plugin"
	genPlugin  = "./testdata/plugingen"
)

// pluginGuests runs test with each plugin guest, as a subtest.
func pluginGuests(t *testing.T, test func(t *testing.T, g *pluginGuest)) {
	for _, dir := range []string{handPlugin, genPlugin} {
		t.Run(dir[len("./testdata/"):], func(t *testing.T) { test(t, newPluginGuestFrom(t, dir)) })
	}
}

func newPluginGuestFrom(t testing.TB, dir string) *pluginGuest {
	t.Helper()
	ctx := context.Background()
	r := newRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := &pluginHost{}
	if err := things.Register(ctx, r, h); err != nil {
		t.Fatal(err)
	}
	// The [export] module the guest imports its widget's
	// [resource-new], [resource-rep] and [resource-drop] from.
	if err := plugin.Register(ctx, r); err != nil {
		t.Fatal(err)
	}
	ctx, inst, mod := instantiateReactor(t, ctx, r, dir)
	x, err := plugin.Bind(inst, mod, "")
	if err != nil {
		t.Fatal(err)
	}
	return &pluginGuest{h: h, inst: inst, mod: mod, x: x, ctx: ctx, hand: dir == handPlugin}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// TestExports calls every export with values of every kind and checks the
// guest's answers, computed on the other side by hand-written Canonical
// ABI code and by the generated guest bindings.
func TestExports(t *testing.T) { pluginGuests(t, testExports) }

func testExports(t *testing.T, g *pluginGuest) {
	ctx, x := g.ctx, g.x

	if got := must[uint32](t, "add")(x.Add(ctx, math.MaxUint32, 2)); got != 1 {
		t.Errorf("add wrapped to %d, want 1", got)
	}
	for _, s := range []string{"", "héllo wörld ✓", strings.Repeat("x", 64<<10)} {
		want := strings.ToUpper(s) + "!"
		if got := must[string](t, "shout")(x.Shout(ctx, s)); got != want {
			t.Errorf("shout(%.20q...) = %.20q..., want %.20q...", s, got, want)
		}
	}
	for _, b := range [][]byte{nil, {1}, make([]byte, 64<<10)} {
		b = append([]byte(nil), b...)
		for i := range b {
			b[i] = byte(i * 7)
		}
		got := must[[]byte](t, "reverse")(x.Reverse(ctx, b))
		if len(got) != len(b) {
			t.Fatalf("reverse: %d bytes back, want %d", len(got), len(b))
		}
		for i := range b {
			if got[i] != b[len(b)-1-i] {
				t.Fatalf("reverse: byte %d is %d, want %d", i, got[i], b[len(b)-1-i])
			}
		}
	}
	if got := must[things.Point](t, "scale")(x.Scale(ctx, things.Point{X: -3, Y: math.MaxInt32 / 4}, 2)); got != (things.Point{X: -6, Y: math.MaxInt32 / 4 * 2}) {
		t.Errorf("scale = %+v", got)
	}

	for _, tc := range []struct{ in, want plugin.Value }{
		{plugin.ValueNone(), plugin.ValueText("none")},
		{plugin.ValueInt(math.MinInt64 + 2), plugin.ValueReal(float32(math.MinInt64+2) / 2)},
		{plugin.ValueReal(-2.5), plugin.ValueInt(-25)},
		{plugin.ValueText("four"), plugin.ValueInt(4)},
	} {
		if got := must[plugin.Value](t, "classify")(x.Classify(ctx, tc.in)); got != tc.want {
			t.Errorf("classify(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if got := must[cabi.Option[uint32]](t, "lengths")(x.Lengths(ctx, cabi.Some("ünï"))); got != cabi.Some[uint32](5) {
		t.Errorf("lengths(some) = %+v", got)
	}
	if got := must[cabi.Option[uint32]](t, "lengths")(x.Lengths(ctx, cabi.None[string]())); got.IsSome() {
		t.Errorf("lengths(none) = %+v", got)
	}
	type res = cabi.Result[uint32, things.ErrorCode]
	for _, tc := range []struct {
		in   cabi.Result[uint32, string]
		want res
	}{
		{cabi.OK[uint32, string](41), cabi.OK[uint32, things.ErrorCode](42)},
		{cabi.Err[uint32]("missing"), cabi.Err[uint32](things.ErrorCodeNotFound)},
		{cabi.Err[uint32]("no"), cabi.Err[uint32](things.ErrorCodeDenied)},
	} {
		if got := must[res](t, "check")(x.Check(ctx, tc.in)); got != tc.want {
			t.Errorf("check(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if got := must[plugin.Perms](t, "toggle")(x.Toggle(ctx, plugin.PermsRead|plugin.PermsExec)); got != plugin.PermsWrite {
		t.Errorf("toggle = %b", got)
	}
	many := plugin.Many{0xdeadbeef, 0, 1 << 5}
	if got := must[plugin.Many](t, "toggle-many")(x.ToggleMany(ctx, many)); got != (plugin.Many{^uint32(0xdeadbeef), ^uint32(0), 1<<5 - 1}) {
		t.Errorf("toggle-many = %x", got)
	}
	if got := must[plugin.Color](t, "next")(x.Next(ctx, plugin.ColorBlue)); got != plugin.ColorRed {
		t.Errorf("next(blue) = %v", got)
	}
	pairs := []plugin.Pair{{Name: "a", N: 1}, {Name: "", N: 0}, {Name: "ω", N: math.MaxUint32 / 2}}
	got := must[[]plugin.Pair](t, "pairs")(x.Pairs(ctx, pairs))
	if len(got) != 3 || got[0] != (plugin.Pair{Name: "ω", N: math.MaxUint32 / 2 * 2}) || got[1] != (plugin.Pair{}) || got[2] != (plugin.Pair{Name: "a", N: 2}) {
		t.Errorf("pairs = %+v", got)
	}
	nan := math.Float64frombits(0x7ff8_0000_0000_1234)
	tr := must[cabi.Tuple3[uint8, string, float64]](t, "triple")(x.Triple(ctx, cabi.Tuple3[uint8, string, float64]{F0: 254, F1: "ab", F2: nan}))
	if tr.F0 != 255 || tr.F1 != "abab" || math.Float64bits(tr.F2) != math.Float64bits(-nan) {
		t.Errorf("triple = %+v (bits %#x)", tr, math.Float64bits(tr.F2))
	}
	var want uint64
	args := make([]uint32, 17)
	for i := range args {
		args[i] = math.MaxUint32 - uint32(i)
		want += uint64(args[i]) * uint64(i+1)
	}
	if got := must[uint64](t, "sum17")(x.Sum17(ctx, args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8],
		args[9], args[10], args[11], args[12], args[13], args[14], args[15], args[16])); got != want {
		t.Errorf("sum17 = %d, want %d", got, want)
	}

	// Ownership: a counter passed to the guest is dropped there; one the
	// guest makes is the host's once returned.
	c := g.h.NewCounter(ctx, 7)
	if got := must[uint32](t, "consume")(x.Consume(ctx, c)); got != 7 {
		t.Errorf("consume = %d", got)
	}
	if n := g.h.live.Load(); n != 0 {
		t.Errorf("%d counters alive after consume, want 0", n)
	}
	minted := must[things.Counter](t, "mint")(x.Mint(ctx, 4))
	if minted.Get(ctx) != 40 || g.inst.Table().Len() != 0 {
		t.Errorf("mint: counter %d, %d handles left in the table; want 40 and 0", minted.Get(ctx), g.inst.Table().Len())
	}
	minted.Drop()

	// Post-return ran once per call of the four exports that have one.
	if !g.hand {
		return
	}
	if got := must[uint32](t, "post-returns")(x.PostReturns(ctx)); got != 3+3+1+1 {
		t.Errorf("post-return ran %d times, want 8", got)
	}
}

// TestExportsFaults checks what a hostile or failing guest gets: a missing
// export at bind time, an out-of-bounds result, an exit, and no call after
// a trap.
func TestExportsFaults(t *testing.T) {
	g := newPluginGuest(t)
	ctx, x := g.ctx, g.x

	if _, err := plugin.Bind(g.inst, g.mod, "0.1.1"); err == nil ||
		!strings.Contains(err.Error(), "test:kitchen/plugin@0.1.1#add is not exported") ||
		!strings.Contains(err.Error(), "test:kitchen/plugin@0.1.1#quit is not exported") ||
		!strings.Contains(err.Error(), "test:kitchen/plugin@0.1.1#[method]widget.describe is not exported") {
		t.Errorf("bind at a version the guest lacks: %v", err)
	}

	_, err := x.BadPointer(ctx)
	var trap *cabi.Trap
	if !errors.As(err, &trap) || trap.Func != "test:kitchen/plugin@0.1.0#bad-pointer" || !strings.Contains(trap.Msg, "out-of-bounds") {
		t.Fatalf("bad-pointer: %v, want an out-of-bounds trap naming the function", err)
	}
	if !g.inst.Trapped() {
		t.Error("the instance is not marked trapped")
	}
	if _, err := x.Add(ctx, 1, 2); err == nil || !strings.Contains(err.Error(), "trapped before") {
		t.Errorf("call after a trap: %v, want refused", err)
	}

	// A host function the guest calls during an export call must not
	// enter the instance again (TestInstanceClaimReentry: nor through
	// another interface).
	g3 := newPluginGuest(t)
	var reentered error
	c := g3.h.NewCounter(g3.ctx, 5).(*pluginCounter)
	c.onGet = func() { _, reentered = g3.x.Add(g3.ctx, 1, 1) }
	if n, err := g3.x.Consume(g3.ctx, c); err != nil || n != 5 {
		t.Errorf("consume: %d, %v", n, err)
	}
	if !errors.Is(reentered, cabi.ErrInstanceBusy) || g3.inst.Trapped() {
		t.Errorf("re-entered call: %v (trapped %v), want cabi.ErrInstanceBusy and the instance alive", reentered, g3.inst.Trapped())
	}
	if n, err := g3.x.Add(g3.ctx, 2, 3); err != nil || n != 5 {
		t.Errorf("add after the refused re-entry: %d, %v", n, err)
	}

	g2 := newPluginGuest(t)
	err = g2.x.Quit(g2.ctx, 3)
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("quit(3): %v, want the guest's exit code 3", err)
	}
	// The exit unwound the guest mid-call: no call enters it again, the
	// scalar path's or the others', and none exits it again.
	if code, exited := g2.inst.Exited(); !exited || code != 3 || g2.inst.Trapped() {
		t.Errorf("after quit(3): exited %v with code %d (trapped %v), want exited with code 3", exited, code, g2.inst.Trapped())
	}
	for name, call := range map[string]func() error{
		"add":   func() error { _, err := g2.x.Add(g2.ctx, 1, 2); return err },
		"quit":  func() error { return g2.x.Quit(g2.ctx, 4) },
		"shout": func() error { _, err := g2.x.Shout(g2.ctx, "hi"); return err },
	} {
		if err := call(); !errors.Is(err, cabi.ErrExited) || errors.As(err, &exit) || !strings.Contains(err.Error(), "exited with code 3") {
			t.Errorf("%s after quit(3): %v, want refused with cabi.ErrExited naming code 3", name, err)
		}
	}

	// An exit in post-return is the guest's exit too, not a trap: the
	// call reports it and the instance is exited with its code (before,
	// the call failed with "post-return trapped" and the instance was
	// marked trapped).
	g4 := newPluginGuest(t)
	if err := g4.x.Quit(g4.ctx, 1<<16|5); err != nil {
		t.Fatalf("arming the post-return's exit: %v", err)
	}
	_, err = g4.x.Shout(g4.ctx, "hi")
	if !errors.As(err, &exit) || exit.ExitCode() != 5 {
		t.Errorf("shout with an exit in its post-return: %v, want the guest's exit code 5", err)
	}
	if code, exited := g4.inst.Exited(); !exited || code != 5 || g4.inst.Trapped() {
		t.Errorf("after the post-return's exit: exited %v with code %d (trapped %v), want exited with code 5", exited, code, g4.inst.Trapped())
	}
	if _, err := g4.x.Add(g4.ctx, 1, 2); !errors.Is(err, cabi.ErrExited) || !strings.Contains(err.Error(), "exited with code 5") {
		t.Errorf("add after the post-return's exit: %v, want refused with cabi.ErrExited naming code 5", err)
	}

	// A host resource an export returned, taken out of the table before
	// its post-return exited (or trapped), is returned to no one: it is
	// dropped, not left alive outside every table (before, the counter
	// mint made stayed alive after Close).
	g5 := newPluginGuest(t)
	if err := g5.x.Quit(g5.ctx, 1<<16|6); err != nil {
		t.Fatalf("arming the post-return's exit: %v", err)
	}
	minted, err := g5.x.Mint(g5.ctx, 2)
	if !errors.As(err, &exit) || exit.ExitCode() != 6 || minted != nil {
		t.Errorf("mint with an exit in its post-return: %v, %v, want no counter and the guest's exit code 6", minted, err)
	}
	if n, held := g5.h.live.Load(), g5.inst.Table().Len(); n != 0 || held != 0 {
		t.Errorf("after mint's post-return exited: %d counters alive, %d handles held, want none", n, held)
	}
	g5.inst.Close(g5.ctx)
	if n := g5.h.live.Load(); n != 0 {
		t.Errorf("after Close: %d counters alive, want 0", n)
	}
}

// BenchmarkExportScalar is the scalar export call through the generated
// glue against api.Function.Call with the same values, in one process
// (x-hand is the ratio).
func BenchmarkExportScalar(b *testing.B) {
	g := newPluginGuest(b)
	add := g.mod.ExportedFunction("test:kitchen/plugin@0.1.0#add")
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := g.x.Add(g.ctx, uint32(i), 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		stack := make([]uint64, 2)
		for i := 0; b.Loop(); i++ {
			stack[0], stack[1] = uint64(uint32(i)), 1
			if err := add.CallWithStack(g.ctx, stack); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExportScalarRatio alternates batches of the generated Add with
// batches of the same export called the hand-written ways, values lowered
// and lifted inline, and reports the ratios of the medians, as compare
// does for imports: "ratio" against api.Function.Call (the baseline the
// limit is set against), "ratio-stack" against CallWithStack, which
// allocates no result slice and claims nothing, so no safe caller can
// match it.
func BenchmarkExportScalarRatio(b *testing.B) {
	g := newPluginGuest(b)
	add := g.mod.ExportedFunction("test:kitchen/plugin@0.1.0#add")
	stack := make([]uint64, 2)
	withStack := func() {
		for i := 0; i < callBatch; i++ {
			stack[0], stack[1] = uint64(uint32(i)), 1
			if err := add.CallWithStack(g.ctx, stack); err != nil {
				panic(err)
			}
			_ = uint32(stack[0])
		}
	}
	call := func() {
		for i := 0; i < callBatch; i++ {
			res, err := add.Call(g.ctx, uint64(uint32(i)), 1)
			if err != nil {
				panic(err)
			}
			_ = uint32(res[0])
		}
	}
	gen := func() {
		for i := 0; i < callBatch; i++ {
			if _, err := g.x.Add(g.ctx, uint32(i), 1); err != nil {
				panic(err)
			}
		}
	}
	withStack()
	call()
	gen()
	n := min(b.N, 1<<20)
	ts, tc, tg := make([]time.Duration, 0, n), make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		withStack()
		t1 := time.Now()
		call()
		t2 := time.Now()
		gen()
		t3 := time.Now()
		if len(ts) < cap(ts) {
			ts, tc, tg = append(ts, t1.Sub(t0)), append(tc, t2.Sub(t1)), append(tg, t3.Sub(t2))
		}
	}
	b.StopTimer()
	ms, mc, mg := median(ts), median(tc), median(tg)
	b.ReportMetric(float64(mg.Nanoseconds())/callBatch, "ns/call")
	b.ReportMetric(float64(mc.Nanoseconds())/callBatch, "baseline-ns/call")
	b.ReportMetric(float64(mg)/float64(mc), "ratio")
	b.ReportMetric(float64(mg)/float64(ms), "ratio-stack")
}
