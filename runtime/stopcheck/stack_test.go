package stopcheck_test

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// recurseModule exports rec, a function that calls itself without end,
// and ok, which returns 7 after a call.
func recurseModule() []byte {
	var m wasmbin.Module
	void := m.Type(nil, nil)
	ret := m.Type(nil, []byte{wasmbin.I32})
	rec := m.Func(void, nil, []byte{0x10, 0x00})
	leaf := m.Func(void, nil, nil)
	ok := m.Func(ret, nil, wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(leaf)), wasmbin.I32Const(7)))
	m.Export("rec", wasmbin.ExportFunc, rec)
	m.Export("ok", wasmbin.ExportFunc, ok)
	return m.Bytes()
}

func stackGlobal(t *testing.T, mod api.Module) api.MutableGlobal {
	t.Helper()
	g, err := stopcheck.StackGlobal(mod)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestStackBudgetTraps: a function recursing without end traps once its
// frames take the budget, leaving the global negative (how the host tells
// the trap from the guest's own), and with the budget reset the instance
// runs again.
func TestStackBudgetTraps(t *testing.T) {
	mod := instantiate(t, recurseModule(), 0)
	g := stackGlobal(t, mod)
	if got, want := g.Get(), stopcheck.StackUnits(stopcheck.DefaultStackBytes); got != want {
		t.Fatalf("the budget starts at %d units, want %d", got, want)
	}
	const budget = 1 << 20
	g.Set(stopcheck.StackUnits(budget))
	_, err := mod.ExportedFunction("rec").Call(context.Background())
	if err == nil {
		t.Fatal("endless recursion returned")
	}
	if !stopcheck.StackExceeded(g) {
		t.Fatalf("the recursion trapped (%v) with the budget not exceeded: %d", err, int32(uint32(g.Get())))
	}
	g.Set(stopcheck.StackUnits(budget))
	res, err := mod.ExportedFunction("ok").Call(context.Background())
	if err != nil || res[0] != 7 {
		t.Fatalf("after the reset: %v, %v", res, err)
	}
	if got := g.Get(); got != stopcheck.StackUnits(budget) {
		t.Errorf("a call that returned left the budget at %d, want %d", got, stopcheck.StackUnits(budget))
	}
}

// balanceModule exports drive(n), which calls n times functions that
// leave through return, a branch to their label (br, br_if taken and
// not, br_table) and a tail call, each calling first so that its frame
// counts.
func balanceModule() []byte {
	var m wasmbin.Module
	void := m.Type(nil, nil)
	ii := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	leaf := m.Func(void, nil, nil)
	c := wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(leaf)))
	ret := m.Func(ii, nil, wasmbin.Cat(c, []byte{0x20, 0x00, 0x0f}))
	br := m.Func(ii, nil, wasmbin.Cat(c, []byte{0x02, 0x40, 0x20, 0x00, 0x0c, 0x01, 0x0b, 0x41, 0x00}))
	brIf := m.Func(ii, nil, wasmbin.Cat(c, []byte{0x20, 0x00, 0x20, 0x00, 0x0d, 0x00}))
	brTable := m.Func(ii, nil, wasmbin.Cat(c, []byte{0x20, 0x00, 0x20, 0x00, 0x0e, 0x01, 0x00, 0x00}))
	tail := m.Func(ii, nil, wasmbin.Cat([]byte{0x20, 0x00, 0x12}, wasmbin.ULEB(uint64(ret))))
	call := func(f int, arg []byte) []byte {
		return wasmbin.Cat(arg, []byte{0x10}, wasmbin.ULEB(uint64(f)), []byte{0x1a})
	}
	n := []byte{0x20, 0x00}
	drive := m.Func(ii, nil, wasmbin.Cat(
		[]byte{0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01},
		call(ret, n), call(br, n), call(brIf, n), call(brIf, wasmbin.I32Const(0)), call(brTable, n), call(tail, n),
		[]byte{0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b, 0x41, 0x00}))
	m.Export("drive", wasmbin.ExportFunc, drive)
	return m.Bytes()
}

// TestStackBudgetBalanced: ten million calls through every way out of a
// function give back what they took.
func TestStackBudgetBalanced(t *testing.T) {
	mod := instantiate(t, balanceModule(), api.CoreFeaturesV2|experimental.CoreFeaturesTailCall)
	g := stackGlobal(t, mod)
	before := g.Get()
	const n = 10_000_000 / 6
	if _, err := mod.ExportedFunction("drive").Call(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if after := g.Get(); after != before {
		t.Errorf("the budget drifted from %d to %d units over %d calls", before, after, 6*n)
	}
}

// nestModule exports down(k, n): it recurses k deep, then calls the host
// with n, which calls down(depth, n-1) again into the guest when n > 0:
// levels of nested calls, each on its own wazero call stack, each deep.
func nestModule() []byte {
	var m wasmbin.Module
	v := m.Type([]byte{wasmbin.I32}, nil)
	ii := m.Type([]byte{wasmbin.I32, wasmbin.I32}, nil)
	host := m.ImportFunc("env", "host", v)
	// if k == 0 { host(n) } else { down(k-1, n) }
	down := m.Func(ii, nil, wasmbin.Cat(
		[]byte{0x20, 0x00, 0x45, 0x04, 0x40, 0x20, 0x01, 0x10}, wasmbin.ULEB(uint64(host)),
		[]byte{0x05, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x20, 0x01, 0x10}, wasmbin.ULEB(uint64(host+1)),
		[]byte{0x0b}))
	m.Export("down", wasmbin.ExportFunc, down)
	return m.Bytes()
}

// A rewrite is how a test path compiles its module, and under which
// wazero configuration it runs.
type rewrite struct {
	name   string
	fn     func([]byte, stopcheck.Options) ([]byte, error)
	checks bool // wazero's termination checks (WithCloseOnContextDone)
}

// rewrites are the two rewrites with the stack budget: with the stop
// flag, and alone under wazero's termination checks.
var rewrites = []rewrite{
	{"stop flag", stopcheck.InstrumentWith, false},
	{"wazero checks", stopcheck.InstrumentStack, true},
}

// instantiateRewritten instantiates wasm rewritten by rw, under its
// wazero configuration.
func instantiateRewritten(t *testing.T, wasm []byte, rw rewrite) api.Module {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(rw.checks))
	t.Cleanup(func() { r.Close(ctx) })
	out, err := rw.fn(wasm, stopcheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// nestedGrowth runs levels nested calls into nestModule's guest, each
// recursing depth frames, under a budget of bytes, rewritten by rw (nil
// rw.fn: the table section alone, CapTables, so no budget), and returns
// the growth of the memory the Go runtime took from the system, whether
// the budget ran out, and the error.
func nestedGrowth(t *testing.T, rw rewrite, levels, depth int, budget int64) (uint64, bool, error) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(rw.checks))
	defer r.Close(ctx)
	_, err := r.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithFunc(func(ctx context.Context, mod api.Module, n uint32) {
			if n == 0 {
				return
			}
			if _, err := mod.ExportedFunction("down").Call(ctx, uint64(depth), uint64(n-1)); err != nil {
				panic(err)
			}
		}).Export("host").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fn := rw.fn
	if fn == nil {
		fn = stopcheck.CapTables
	}
	out, err := fn(nestModule(), stopcheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	var g api.MutableGlobal
	if rw.fn != nil {
		g = stackGlobal(t, mod)
		g.Set(stopcheck.StackUnits(budget))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = mod.ExportedFunction("down").Call(ctx, uint64(depth), uint64(levels))
	runtime.ReadMemStats(&after)
	return after.Sys - before.Sys, g != nil && stopcheck.StackExceeded(g), err
}

// TestStackBudgetNested: levels of calls nested inside host calls share
// one budget, so that the host's memory for their stacks stays near it,
// where without one it grows with each level by what the level's
// recursion takes: with the stop flag (InstrumentWith) and under
// wazero's termination checks (InstrumentStack), where the module had
// only its tables rewritten (CapTables) before. The levels here are few
// (each is some 30 MB without a budget); the default --max-nested-calls
// is 1,000. The bounded runs come first: the memory the Go runtime took
// from the system for one run serves the next without growing again.
func TestStackBudgetNested(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates some hundreds of MB")
	}
	const depth = 200_000
	const budget = 8 << 20
	var most uint64
	for _, rw := range rewrites {
		bounded, exceeded, err := nestedGrowth(t, rw, 50, depth/10, budget)
		if err == nil || !exceeded {
			t.Fatalf("%s: 50 levels of %d frames under a budget of %d bytes: %v (exceeded: %v)", rw.name, depth/10, budget, err, exceeded)
		}
		t.Logf("%s: host memory growth %d MiB for 50 levels of %d frames under %d MiB", rw.name, bounded>>20, depth/10, budget>>20)
		if limit := uint64(4*budget + 32<<20); bounded > limit {
			t.Errorf("%s: under a budget of %d MiB the host grew by %d MiB, more than %d MiB", rw.name, budget>>20, bounded>>20, limit>>20)
		}
		most = max(most, bounded)
	}
	unbounded, _, err := nestedGrowth(t, rewrite{name: "tables alone", checks: true}, 8, depth, 0)
	if err != nil {
		t.Fatalf("without a budget: %v", err)
	}
	t.Logf("host memory growth: %d MiB for 8 levels of %d frames without a budget (wazero's checks, CapTables)", unbounded>>20, depth)
	if unbounded < 2*most {
		t.Errorf("without a budget the host grew by %d MiB only, under one by %d MiB: the test shows nothing", unbounded>>20, most>>20)
	}
}

// TestStackWeightCovers: with no budget to speak of, a function recursing
// without end overflows wazero's own stack, which doubles while under
// 50,000,000 bytes, so that the full stack it overflows holds 50 to 100
// million bytes of frames; the frames weigh more than 100 million: the
// weights over-approximate the stack.
func TestStackWeightCovers(t *testing.T) {
	mod := instantiate(t, recurseModule(), 0)
	g := stackGlobal(t, mod)
	g.Set(stopcheck.StackUnits(stopcheck.MaxStackBytes))
	if _, err := mod.ExportedFunction("rec").Call(context.Background()); err == nil {
		t.Fatal("endless recursion returned")
	}
	used := (stopcheck.StackUnits(stopcheck.MaxStackBytes) - g.Get()) * stopcheck.StackUnit
	t.Logf("%d bytes accounted at wazero's stack overflow", used)
	if used < 100_000_000 {
		t.Errorf("the frames of a recursion that overflowed wazero's stack weigh %d bytes, less than it may hold", used)
	}
}

// TestStackRefusesLabelPastFunction: a branch to a label past the
// function's is invalid, and the block the budget wraps a body in would
// make it valid, branching past the budget's give-back: it is refused.
func TestStackRefusesLabelPastFunction(t *testing.T) {
	var m wasmbin.Module
	void := m.Type(nil, nil)
	leaf := m.Func(void, nil, nil)
	m.Func(void, nil, wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(leaf)), []byte{0x0c, 0x01}))
	for _, rw := range rewrites {
		if _, err := rw.fn(m.Bytes(), stopcheck.Options{}); err == nil || !strings.Contains(err.Error(), "past the function's") {
			t.Errorf("%s: br 1 at a function's top: %v", rw.name, err)
		}
	}
}

// multiModule exports functions of type [i32] -> [i32 i32] that call:
// pair(x) returns (x, x+1) through return, twice(x) (x, x) through a
// branch to the function's label, and rec(x) calls itself without end.
// With withType, the module also has the type [] -> [i32 i32].
func multiModule(withType bool) []byte {
	var m wasmbin.Module
	void := m.Type(nil, nil)
	two := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32, wasmbin.I32})
	if withType {
		m.Type(nil, []byte{wasmbin.I32, wasmbin.I32})
	}
	leaf := m.Func(void, nil, nil)
	call := wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(leaf)))
	pair := m.Func(two, nil, wasmbin.Cat(call, []byte{0x20, 0x00, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x0f}))
	twice := m.Func(two, nil, wasmbin.Cat(call, []byte{0x20, 0x00, 0x20, 0x00, 0x0c, 0x00}))
	rec := leaf + 3
	m.Func(two, nil, wasmbin.Cat([]byte{0x20, 0x00, 0x41, 0x01, 0x6b, 0x10}, wasmbin.ULEB(uint64(rec))))
	m.Export("pair", wasmbin.ExportFunc, pair)
	m.Export("twice", wasmbin.ExportFunc, twice)
	m.Export("rec", wasmbin.ExportFunc, rec)
	return m.Bytes()
}

// TestStackMultiValue: a function of several results is counted in the
// budget whether or not the module has the type [] -> those results its
// body's block needs: the rewrite appends it when missing (before, the
// module was refused, and ran without a budget), and only then, leaving
// the type section as it was otherwise. Its ways out give back what the
// entry took, and a recursion of it traps at the budget.
func TestStackMultiValue(t *testing.T) {
	for _, rw := range rewrites {
		for _, withType := range []bool{false, true} {
			wasm := multiModule(withType)
			out, err := rw.fn(wasm, stopcheck.Options{})
			if err != nil {
				t.Fatalf("%s, type present %v: %v", rw.name, withType, err)
			}
			typeSection := wasm[8 : 8+2+int(wasm[9])] // one byte of size
			if same := bytes.Contains(out, typeSection); same != withType {
				t.Errorf("%s, type present %v: the type section kept as it was: %v", rw.name, withType, same)
			}
			mod := instantiateRewritten(t, wasm, rw)
			g := stackGlobal(t, mod)
			const budget = 1 << 20
			g.Set(stopcheck.StackUnits(budget))
			for _, c := range []struct {
				fn   string
				want [2]uint64
			}{{"pair", [2]uint64{5, 6}}, {"twice", [2]uint64{5, 5}}} {
				res, err := mod.ExportedFunction(c.fn).Call(context.Background(), 5)
				if err != nil || len(res) != 2 || res[0] != c.want[0] || res[1] != c.want[1] {
					t.Errorf("%s, type present %v: %s(5) = %v, %v; want %v", rw.name, withType, c.fn, res, err, c.want)
				}
			}
			if got := g.Get(); got != stopcheck.StackUnits(budget) {
				t.Errorf("%s, type present %v: calls that returned left the budget at %d, want %d", rw.name, withType, got, stopcheck.StackUnits(budget))
			}
			if _, err := mod.ExportedFunction("rec").Call(context.Background(), 0); err == nil || !stopcheck.StackExceeded(g) {
				t.Errorf("%s, type present %v: endless recursion: %v, budget exceeded %v", rw.name, withType, err, stopcheck.StackExceeded(g))
			}
		}
	}
}

// TestInstrumentStack: InstrumentStack adds the stack budget alone: no
// stop global, no checks (a loop runs under wazero's, which stop it when
// the call's context ends), a start function exported for the host to
// call once it has set the budget, and a module exporting the stop
// global's name, which InstrumentWith refuses, is rewritten.
func TestInstrumentStack(t *testing.T) {
	var m wasmbin.Module
	void := m.Type(nil, nil)
	g := m.Global(wasmbin.I32, true, wasmbin.I32Const(0))
	m.Export(stopcheck.GlobalName, wasmbin.ExportGlobal, g)
	spin := m.Func(void, nil, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b})
	m.Export("spin", wasmbin.ExportFunc, spin)
	m.Start(m.Func(void, nil, wasmbin.Cat(wasmbin.I32Const(7), []byte{0x24}, wasmbin.ULEB(uint64(g)))))
	wasm := m.Bytes()
	if _, err := stopcheck.Instrument(wasm); err == nil || !strings.Contains(err.Error(), "already exports") {
		t.Fatalf("Instrument of a module exporting %q: %v", stopcheck.GlobalName, err)
	}
	mod := instantiateRewritten(t, wasm, rewrites[1])
	if v := mod.ExportedGlobal(stopcheck.GlobalName).Get(); v != 0 {
		t.Fatalf("the guest's own global is %d after instantiation: the start function ran, or the global is not its", v)
	}
	if _, err := mod.ExportedFunction(stopcheck.StartName).Call(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := mod.ExportedGlobal(stopcheck.GlobalName).Get(); v != 7 {
		t.Fatalf("the guest's global is %d after its start function, want 7", v)
	}
	stackGlobal(t, mod)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := mod.ExportedFunction("spin").Call(ctx); err == nil {
		t.Fatal("spin returned")
	}
	out, err := stopcheck.InstrumentStack(wasm, stopcheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checked, err := stopcheck.Instrument(recurseModule())
	if err != nil {
		t.Fatal(err)
	}
	stackOnly, err := stopcheck.InstrumentStack(recurseModule(), stopcheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The check's way out to Go is a table.grow.
	if len(stackOnly) >= len(checked) || bytes.Contains(out, []byte{0xfc, 0x0f}) {
		t.Errorf("InstrumentStack added the stop flag's globals, table or checks: %d bytes, %d with them", len(stackOnly), len(checked))
	}
	for _, name := range []string{stopcheck.StackName, stopcheck.StartName} {
		var m wasmbin.Module
		m.Export(name, wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, nil))
		if _, err := stopcheck.InstrumentStack(m.Bytes(), stopcheck.Options{}); err == nil || !strings.Contains(err.Error(), "already exports") {
			t.Errorf("InstrumentStack of a module exporting %q: %v", name, err)
		}
	}
}
