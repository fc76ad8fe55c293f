package abitest

import (
	"context"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/kitchen/test/kitchen/echo"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// TestOwnListCost: lifting a list of own<R> handles costs the host the
// same per handle however long the list (checking that no handle is moved
// twice in one call). Before, each handle was compared with every one
// lifted before it: a guest holding its handle limit's worth (262,144 by
// default) made one call of take-all cost 3.4·10^10 comparisons, tens of
// seconds of host CPU that neither the call's context nor Close could
// end. The guest gets n counters from the host (counters) and gives them
// all back in one list (take-all); the test compares the time per handle
// of 1,024 and 65,536 handles, alternating, best of five each: 40 times
// as much before, 3 to 4 after (the host's heap and maps grow with the
// list).
func TestOwnListCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a ratio")
	}
	var m wasmbin.Module
	tCounters := m.Type([]byte{i32, i32}, nil)
	tTakeAll := m.Type([]byte{i32, i32}, []byte{i32})
	counters := m.ImportFunc(echoMod, "counters", tCounters)
	takeAll := m.ImportFunc(echoMod, "take-all", tTakeAll)
	m.Memory(8, 8)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export("cabi_realloc", wasmbin.ExportFunc, m.Func(m.Type([]byte{i32, i32, i32, i32}, []byte{i32}), nil, i32Const(1024)))
	m.Export("run", wasmbin.ExportFunc, m.Func(m.Type([]byte{i32}, []byte{i32}), nil, cat(
		[]byte{0x20, 0x00}, i32Const(8), []byte{0x10, byte(counters)}, // counters(n, 8)
		i32Const(8), []byte{0x28, 0x02, 0x00}, i32Const(12), []byte{0x28, 0x02, 0x00}, // the list it returned
		[]byte{0x10, byte(takeAll)}, // take-all(list)
	)))

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
	run := mod.ExportedFunction("run")
	perHandle := func(n int) time.Duration {
		goruntime.GC() // the heap of the run before is not this one's to collect
		start := time.Now()
		res, err := run.Call(ctx, uint64(n))
		d := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(n) * uint64(n-1) / 2; res[0] != want&0xffffffff {
			t.Fatalf("take-all of %d counters = %d, want %d", n, res[0], want&0xffffffff)
		}
		if l := inst.Table().Len(); l != 0 {
			t.Fatalf("%d handles left in the table", l)
		}
		return d / time.Duration(n)
	}
	const small, large = 1 << 10, 1 << 16
	best := [2]time.Duration{1 << 62, 1 << 62}
	for range 5 {
		for i, n := range []int{small, large} {
			best[i] = min(best[i], perHandle(n))
		}
	}
	ratio := float64(best[1]) / float64(best[0])
	t.Logf("per handle: %v for %d, %v for %d (ratio %.1f)", best[0], small, best[1], large, ratio)
	if ratio > 15 {
		t.Errorf("a handle of a list of %d costs %.1f times one of a list of %d: the lift is not linear", large, ratio, small)
	}
}
