package stopcheck_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

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

// nestedGrowth runs levels nested calls into nestModule's guest, each
// recursing depth frames, under a budget of bytes, and returns the
// growth of the memory the Go runtime took from the system, and the
// error.
func nestedGrowth(t *testing.T, levels, depth int, budget int64) (uint64, bool, error) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
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
	out, err := stopcheck.Instrument(nestModule())
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	g := stackGlobal(t, mod)
	g.Set(stopcheck.StackUnits(budget))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = mod.ExportedFunction("down").Call(ctx, uint64(depth), uint64(levels))
	runtime.ReadMemStats(&after)
	return after.Sys - before.Sys, stopcheck.StackExceeded(g), err
}

// TestStackBudgetNested: levels of calls nested inside host calls share
// one budget, so that the host's memory for their stacks stays near it,
// where without one it grows with each level by what the level's
// recursion takes. The levels here are few (each is some 30 MB without a
// budget); the default --max-nested-calls is 1,000.
func TestStackBudgetNested(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates some hundreds of MB")
	}
	const depth = 200_000
	unbounded, _, err := nestedGrowth(t, 8, depth, stopcheck.MaxStackBytes)
	if err != nil {
		t.Fatalf("without a budget: %v", err)
	}
	const budget = 8 << 20
	bounded, exceeded, err := nestedGrowth(t, 50, depth/10, budget)
	if err == nil || !exceeded {
		t.Fatalf("50 levels of %d frames under a budget of %d bytes: %v (exceeded: %v)", depth/10, budget, err, exceeded)
	}
	t.Logf("host memory growth: %d MiB for 8 levels of %d frames without a budget, %d MiB for 50 levels of %d under %d MiB",
		unbounded>>20, depth, bounded>>20, depth/10, budget>>20)
	if limit := uint64(4*budget + 32<<20); bounded > limit {
		t.Errorf("under a budget of %d MiB the host grew by %d MiB, more than %d MiB", budget>>20, bounded>>20, limit>>20)
	}
	if unbounded < 2*bounded {
		t.Errorf("without a budget the host grew by %d MiB only, under one by %d MiB: the test shows nothing", unbounded>>20, bounded>>20)
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
// make it valid, branching past the budget's give-back: it is refused,
// as is a function of several results with no type to wrap its body in.
func TestStackRefusesLabelPastFunction(t *testing.T) {
	var m wasmbin.Module
	void := m.Type(nil, nil)
	leaf := m.Func(void, nil, nil)
	m.Func(void, nil, wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(leaf)), []byte{0x0c, 0x01}))
	if _, err := stopcheck.Instrument(m.Bytes()); err == nil || !strings.Contains(err.Error(), "past the function's") {
		t.Errorf("br 1 at a function's top: %v", err)
	}
	var m2 wasmbin.Module
	two := m2.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32, wasmbin.I32})
	m2.Func(two, nil, []byte{0x20, 0x00, 0x20, 0x00, 0x12, 0x00})
	if _, err := stopcheck.Instrument(m2.Bytes()); err == nil || !strings.Contains(err.Error(), "several results") {
		t.Errorf("two results without a [] -> [i32 i32] type: %v", err)
	}
}
