package runtime_test

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/internal/wasmsize"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
)

// TestHostileModuleSizes: a module of a few bytes declaring a count its
// bytes do not hold (a function type of 2^32-1 results, 4 billion locals,
// a custom section of 4 GiB, an element vector of 2^32-1 entries) is
// refused by runtime.CompileModule (a *wasmsize.Error) and by a
// component's instantiation,
// with or without the stop flag, before wazero's decoder allocates for
// it: before the check, the first made the process die with "fatal
// error: runtime: out of memory" (wazero asked for 32 GiB). The host
// allocates less than 64 MiB for all of them together.
func TestHostileModuleSizes(t *testing.T) {
	const huge = 1<<32 - 1
	header := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	mods := map[string][]byte{
		"results": wasmbin.Cat(header, wasmbin.Section(1, wasmbin.Cat([]byte{0x01, 0x60, 0x00}, wasmbin.ULEB(huge), []byte{0x00}))),
		"locals": wasmbin.Cat(header,
			wasmbin.Section(1, []byte{0x01, 0x60, 0x00, 0x00}),
			wasmbin.Section(3, []byte{0x01, 0x00}),
			wasmbin.Section(10, wasmbin.Cat([]byte{0x01, 0x08, 0x01}, wasmbin.ULEB(huge), []byte{0x7f, 0x0b}))),
		"custom section": wasmbin.Cat(header, []byte{0x00}, wasmbin.ULEB(huge), wasmbin.Name("x")),
		"element vector": wasmbin.Cat(header, wasmbin.Section(9, wasmbin.Cat([]byte{0x01, 0x00, 0x41, 0x00, 0x0b}, wasmbin.ULEB(huge), []byte{0x00}))),
	}
	ctx := context.Background()
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	for name, wasm := range mods {
		t.Run(name, func(t *testing.T) {
			var se *wasmsize.Error
			r := wazero.NewRuntimeWithConfig(ctx, runtime.NewFastRuntimeConfig())
			defer r.Close(ctx)
			if _, err := runtime.CompileModule(ctx, r, wasm); !errors.As(err, &se) {
				t.Fatalf("CompileModule = %v, want a *wasmsize.Error", err)
			}
			// A component instantiating it as its only core module.
			c, err := component.Parse(wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00},
				wasmbin.Section(1, wasm), wasmbin.Section(2, []byte{0x01, 0x00, 0x00, 0x00})))
			if err != nil {
				t.Fatal(err)
			}
			for _, stop := range []bool{false, true} {
				cfg := runtime.NewRuntimeConfig()
				if stop {
					cfg = runtime.NewFastRuntimeConfig()
				}
				r := wazero.NewRuntimeWithConfig(ctx, cfg)
				defer r.Close(ctx)
				rt, err := runtime.New(ctx, r, runtime.Config{StopFlag: stop})
				if err != nil {
					t.Fatal(err)
				}
				// (The loader's own reading of core modules refuses some
				// first.)
				if inst, err := rt.InstantiateComponent(ctx, c, runtime.ModuleConfig{}); err == nil {
					inst.Close(ctx)
					t.Fatalf("stop flag %v: InstantiateComponent succeeded", stop)
				}
			}
		})
	}
	goruntime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Fatalf("the host allocated %d MiB compiling the hostile modules", d>>20)
	}
}

// TestTableGrowCap: a guest's table.grow cannot make the host allocate
// past Limits.TableEntries entries (8 bytes each) for its tables
// together: before the cap, wazero grew a table declared without a
// maximum to whatever one instruction asked, 2^31 entries taking the host
// 16 GiB and a minute, past --max-memory. Compiled with
// CompileModuleLimits (the stop flag) or CompileModuleChecked (wazero's
// termination checks, for a module the stop flag's rewriter refuses), a
// table has a maximum; table.grow past it returns -1, as for a table
// declared so, and the guest carries on. The limit here is set through
// Config.Limits, below the default; a module compiled for the default
// is refused by Instantiate, naming the limit.
func TestTableGrowCap(t *testing.T) {
	var m wasmbin.Module
	// Two tables, funcref without a maximum and externref with 2^32-1.
	m.Table(0x70, 0, -1)
	m.Table(0x6f, 0, 1<<32-1)
	ty := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	// grow(n): table.grow 0 by n with ref.null func; size(): table.size 0
	grow := m.Func(ty, nil, []byte{0xd0, 0x70, 0x20, 0x00, 0xfc, 0x0f, 0x00})
	size := m.Func(ty, nil, []byte{0xfc, 0x10, 0x00})
	m.Export("grow", wasmbin.ExportFunc, grow)
	m.Export("size", wasmbin.ExportFunc, size)
	wasm := m.Bytes()
	const limit = 3_000_000 // below stopcheck.DefaultTableEntries
	cfg := runtime.Config{Limits: runtime.Limits{TableEntries: limit}}
	ctx := context.Background()
	for _, path := range []struct {
		name    string
		rt      func() *runtime.Runtime
		compile func(context.Context, wazero.Runtime, []byte, runtime.Limits) (wazero.CompiledModule, error)
	}{
		{"stop flag", func() *runtime.Runtime { return fastRuntime(t, cfg) }, runtime.CompileModuleLimits},
		{"wazero checks", func() *runtime.Runtime {
			r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig())
			t.Cleanup(func() { r.Close(ctx) })
			rt, err := runtime.New(ctx, r, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return rt
		}, runtime.CompileModuleChecked},
	} {
		t.Run(path.name, func(t *testing.T) {
			rt := path.rt()
			// Compiled for the default bound: more than the guest's.
			compiled, err := path.compile(ctx, rt.Wazero(), wasm, runtime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{}); err == nil || !strings.Contains(err.Error(), "runtime.Limits.TableEntries") {
				if inst != nil {
					inst.Close(ctx)
				}
				t.Fatalf("Instantiate of a module compiled for the default table bound: %v, want the limit named", err)
			}
			compiled, err = path.compile(ctx, rt.Wazero(), wasm, cfg.Limits)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close(ctx)
			var before, after goruntime.MemStats
			goruntime.ReadMemStats(&before)
			share := uint64(limit / 2)
			for _, tc := range []struct{ n, want uint64 }{
				{1<<31 - 1, 1<<32 - 1}, // refused: -1
				{share + 1, 1<<32 - 1},
				{share, 0}, // the table's share, granted: the old size
				{1, 1<<32 - 1},
			} {
				res, err := inst.Call("grow", tc.n)
				if err != nil || res[0] != tc.want {
					t.Fatalf("grow(%d) = %v, %v; want %d", tc.n, res, err, tc.want)
				}
			}
			goruntime.ReadMemStats(&after)
			if d := after.TotalAlloc - before.TotalAlloc; d > 2*8*share+(16<<20) {
				t.Fatalf("the host allocated %d MiB for a table of %d entries", d>>20, share)
			}
			if res, err := inst.Call("size", 0); err != nil || res[0] != share {
				t.Fatalf("size = %v, %v; want %d", res, err, share)
			}
		})
	}
}

// TestComponentTableEntries: Config.Limits.TableEntries reaches a
// component's core modules, with the stop flag or without: each gets the
// bound, and all its core instances twice it together, so that two
// instances of a module whose table declares no maximum fit and a third
// is refused, naming twice the limit, the field and the flag (an error
// wrapping component.ErrTableEntries); a module whose table starts past
// the limit is refused, naming them too.
func TestComponentTableEntries(t *testing.T) {
	unbounded := wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		wasmbin.Section(4, wasmbin.Vec([][]byte{{0x70, 0x00, 0x00}})))
	large := wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		wasmbin.Section(4, wasmbin.Vec([][]byte{wasmbin.Cat([]byte{0x70, 0x00}, wasmbin.ULEB(1001))})))
	const named = "runtime.Limits.TableEntries, wasitls run --max-table-entries"
	ctx := context.Background()
	for _, stop := range []bool{false, true} {
		for _, n := range []int{2, 3, 0} {
			wasm := wasmbin.CoreInstances(unbounded, n)
			if n == 0 {
				wasm = wasmbin.CoreInstances(large, 1)
			}
			c, err := component.Parse(wasm)
			if err != nil {
				t.Fatal(err)
			}
			cfg := runtime.NewRuntimeConfig()
			if stop {
				cfg = runtime.NewFastRuntimeConfig()
			}
			r := wazero.NewRuntimeWithConfig(ctx, cfg)
			defer r.Close(ctx)
			rt, err := runtime.New(ctx, r, runtime.Config{StopFlag: stop, Limits: runtime.Limits{TableEntries: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			inst, err := rt.InstantiateComponent(ctx, c, runtime.ModuleConfig{})
			if err == nil {
				inst.Close(ctx)
			}
			switch {
			case n == 2 && err != nil,
				n == 3 && (err == nil || !strings.Contains(err.Error(), "more than the 2000 the host allows (twice "+named+")") ||
					!errors.Is(err, component.ErrTableEntries)),
				n == 0 && (err == nil || !strings.Contains(err.Error(), "more than the 1000 the host allows ("+named+")")):
				t.Errorf("stop flag %v, %d instances (0: a table starting at 1001): %v", stop, n, err)
			}
		}
	}
}
