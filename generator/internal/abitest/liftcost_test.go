package abitest

import (
	"context"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/kitchen/test/kitchen/echo"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// TestLiftHostCostBudget: what the host holds for a lifted list counts
// against the call's lift budget (twice the guest's memory and a MiB),
// not only the list's bytes in guest memory. A list<item> element is 20
// bytes in the guest and 48 on the host (an option<string> and a list
// header): a guest whose 16 MiB of zero pages are one list of 838,000
// empty items made the host allocate 38 MiB before the host function ran,
// and a 4 GiB guest would make it allocate 10 GiB. The call traps before
// the slice is made or the host function runs.
func TestLiftHostCostBudget(t *testing.T) {
	const pages = 256 // 16 MiB, all zero: every 20 bytes an empty item
	const memSize = pages << 16
	var m wasmbin.Module
	tItems := m.Type([]byte{i32, i32, i32}, nil)
	tRealloc := m.Type([]byte{i32, i32, i32, i32}, []byte{i32})
	tRun := m.Type(nil, nil)
	m.ImportFunc(echoMod, "echo-items", tItems)
	m.Memory(pages, pages)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export("cabi_realloc", wasmbin.ExportFunc, m.Func(tRealloc, nil, i32Const(0)))
	n := int32(memSize/20 - 1)
	m.Export("run", wasmbin.ExportFunc, m.Func(tRun, nil, cat(i32Const(0), i32Const(n), i32Const(memSize-8), []byte{0x10, 0})))

	ctx := context.Background()
	r := newRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	h := newHost()
	h.quiet = true
	if err := echo.Register(ctx, r, h); err != nil {
		t.Fatal(err)
	}
	inst := cabi.NewInstance()
	ctx = cabi.WithInstance(ctx, inst)
	mod, err := r.Instantiate(ctx, m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	calls := h.calls.Load()
	_, err = mod.ExportedFunction("run").Call(ctx)
	goruntime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "echo-items") || !strings.Contains(err.Error(), "twice the guest memory") {
		t.Errorf("echo-items of %d empty items: %v, want a trap for lifting more than twice the guest memory", n, err)
	}
	if h.calls.Load() != calls {
		t.Error("the host function ran")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("the call allocated %d MiB on the host", grew>>20)
	}
	if !inst.Trapped() {
		t.Error("instance not marked trapped")
	}
}
