package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/link"
)

// recurseReactor exports rec, which calls itself without end, and ok,
// which returns 7 after a call, also as test:stop/api#rec and #ok for the
// generated callers' paths.
func recurseReactor() []byte {
	var m wasmbin.Module
	void := m.Type(nil, nil)
	ret := m.Type(nil, []byte{wasmbin.I32})
	rec := m.Func(void, nil, []byte{0x10, 0x00})
	leaf := m.Func(void, nil, nil)
	ok := m.Func(ret, nil, wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(leaf)), wasmbin.I32Const(7)))
	for _, p := range []string{"", "test:stop/api#"} {
		m.Export(p+"rec", wasmbin.ExportFunc, rec)
		m.Export(p+"ok", wasmbin.ExportFunc, ok)
	}
	return m.Bytes()
}

// A stackPath is a way of running guests with the stack budget: the stop
// flag (CompileModuleLimits under NewFastRuntimeConfig), or wazero's
// termination checks (CompileModuleChecked under NewRuntimeConfig).
type stackPath struct {
	name    string
	rt      func(t *testing.T, cfg runtime.Config) *runtime.Runtime
	compile func(context.Context, wazero.Runtime, []byte, runtime.Limits) (wazero.CompiledModule, error)
}

var stackPaths = []stackPath{
	{"stop flag", fastRuntime, runtime.CompileModuleLimits},
	{"wazero checks", checksRuntime, runtime.CompileModuleChecked},
}

// checksRuntime is a Runtime under wazero's termination checks.
func checksRuntime(t *testing.T, cfg runtime.Config) *runtime.Runtime {
	t.Helper()
	_, rt := testRuntime(t, runtime.NewRuntimeConfig(), cfg)
	return rt
}

// TestStackLimit: a call recursing without end traps at the stack budget
// (Limits.Stack), reported as such by every way of calling it, and a
// reactor's next Instance.Call has the whole budget again: with the stop
// flag and under wazero's termination checks. Each instance past the
// budget logs one record naming the cap and the guest (capreport).
func TestStackLimit(t *testing.T) {
	for _, path := range stackPaths {
		t.Run(path.name, func(t *testing.T) { testStackLimit(t, path) })
	}
}

func testStackLimit(t *testing.T, path stackPath) {
	const budget = 1 << 20
	log, rec := capreporttest.New()
	rt := path.rt(t, runtime.Config{Logger: log, Limits: runtime.Limits{Stack: budget}})
	compiled, err := path.compile(context.Background(), rt.Wazero(), recurseReactor(), runtime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range spinCallers {
		t.Run(name, func(t *testing.T) {
			inst, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close(context.Background())
			err = call(inst, "rec")
			if !errors.Is(err, cabi.ErrStackExceeded) || !strings.Contains(err.Error(), "of 1048576 bytes (runtime.Limits.Stack, wasitls run --max-stack)") {
				t.Fatalf("err = %v, want the stack budget's", err)
			}
			if name != "Instance.Call" {
				return // the generated callers' instance is trapped for good
			}
			for i := 0; i < 3; i++ {
				if res, err := inst.Call("ok"); err != nil || res[0] != 7 {
					t.Fatalf("call %d after the trap: %v, %v", i, res, err)
				}
				if err := call(inst, "rec"); !errors.Is(err, cabi.ErrStackExceeded) {
					t.Fatalf("recursion %d after the trap: %v", i, err)
				}
			}
		})
	}
	if err := rec.Check("--max-stack", budget, len(spinCallers)); err != nil {
		t.Error(err)
	}
}

// TestStackLimitGoGuest: a Go guest recursing 100,000 calls deep runs
// under the default budget; under a budget of 1 MiB it traps with the
// budget's error, naming the flag: with the stop flag and under wazero's
// termination checks.
func TestStackLimitGoGuest(t *testing.T) {
	wasm := guestbuild.MustBuild(t, "./testdata/hog")
	for _, path := range stackPaths {
		t.Run(path.name, func(t *testing.T) {
			rt := path.rt(t, runtime.Config{})
			compiled, err := path.compile(context.Background(), rt.Wazero(), wasm, runtime.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := runHog(rt, compiled, runtime.Limits{}, "recurse", "100000")
			if err != nil || lastLine(stdout) != "recursed 100000" {
				t.Fatalf("100,000 calls deep under the default budget: %q, %q, %v", stdout, stderr, err)
			}
			stdout, _, err = runHog(rt, compiled, runtime.Limits{Stack: 1 << 20}, "recurse", "100000")
			if !errors.Is(err, cabi.ErrStackExceeded) || !strings.Contains(err.Error(), "--max-stack") || strings.Contains(stdout, "recursed") {
				t.Fatalf("100,000 calls deep under 1 MiB: %q, %v", stdout, err)
			}
		})
	}
}

// nestHost serves example:nest/host, whose host(n) calls the guest's
// export down(depth, n-1) back when n > 0: a call nested inside a host
// call, with a wazero call stack of its own.
type nestHost struct{ depth uint64 }

func (*nestHost) Register(context.Context, wazero.Runtime) error { return nil }

func (h *nestHost) Implementations() []link.Implementation {
	return []link.Implementation{{
		Interface: "example:nest/host", Version: "0.1.0",
		Functions: func(string) []cabi.HostFunc {
			return []cabi.HostFunc{{Name: "host", Params: []api.ValueType{api.ValueTypeI32}, Fn: func(ctx context.Context, mod api.Module, stack []uint64) {
				if n := uint32(stack[0]); n > 0 {
					if _, err := mod.ExportedFunction("down").Call(ctx, h.depth, uint64(n-1)); err != nil {
						panic(err) // the trap, out through every level
					}
				}
			}}}
		},
	}}
}

// nestReactor exports down(k, n): it recurses k deep, then calls the
// host with n, which calls down again when n > 0.
func nestReactor() []byte {
	var m wasmbin.Module
	v := m.Type([]byte{wasmbin.I32}, nil)
	ii := m.Type([]byte{wasmbin.I32, wasmbin.I32}, nil)
	host := m.ImportFunc("example:nest/host@0.1.0", "host", v)
	// if k == 0 { host(n) } else { down(k-1, n) }
	down := m.Func(ii, nil, wasmbin.Cat(
		[]byte{0x20, 0x00, 0x45, 0x04, 0x40, 0x20, 0x01, 0x10}, wasmbin.ULEB(uint64(host)),
		[]byte{0x05, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x20, 0x01, 0x10}, wasmbin.ULEB(uint64(host+1)),
		[]byte{0x0b}))
	m.Export("down", wasmbin.ExportFunc, down)
	return m.Bytes()
}

// TestStackLimitNested: a guest recursing deep at each level of calls
// nested inside its host calls (each level has a wazero stack of its own,
// growing to some 100 MB) is bounded by Limits.Stack, every level
// together, under wazero's termination checks as with the stop flag: 50
// levels of 20,000 frames cross a budget of 8 MiB and trap with its
// error while the host's peak resident size grows by at most 4 times the
// budget and 64 MiB. Compiled straight with wazero (no budget), 8 levels
// of 200,000 frames grow it by more than twice that.
func TestStackLimitNested(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates some hundreds of MB")
	}
	const budget = 8 << 20
	ctx := context.Background()
	run := func(t *testing.T, path stackPath, levels int, depth uint64) (uint64, error) {
		h := &nestHost{depth: depth}
		rt := path.rt(t, runtime.Config{Extensions: []runtime.Extension{h}, Limits: runtime.Limits{Stack: budget}})
		var compiled wazero.CompiledModule
		var err error
		if path.compile != nil {
			compiled, err = path.compile(ctx, rt.Wazero(), nestReactor(), runtime.Limits{})
		} else {
			compiled, err = rt.Wazero().CompileModule(ctx, nestReactor())
		}
		if err != nil {
			t.Fatal(err)
		}
		inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer inst.Close(ctx)
		base := resetPeakRSS(t)
		if base == 0 {
			t.Skip("no peak RSS to measure")
		}
		_, err = inst.Call("down", depth, uint64(levels))
		return peakRSS(t) - base, err
	}
	// The bounded runs first: the Go runtime keeps what it took from the
	// system for one run for the next (resetPeakRSS gives it back).
	var most uint64
	for _, path := range stackPaths {
		grew, err := run(t, path, 50, 20_000)
		if !errors.Is(err, cabi.ErrStackExceeded) || !strings.Contains(err.Error(), "of 8388608 bytes (runtime.Limits.Stack, wasitls run --max-stack)") {
			t.Fatalf("%s: 50 levels of 20,000 frames under 8 MiB: %.300v, want the budget's error", path.name, err)
		}
		t.Logf("%s: host peak RSS grew by %d MiB for 50 levels of 20,000 frames under %d MiB", path.name, grew>>20, budget>>20)
		if limit := uint64(4*budget + 64<<20); grew > limit {
			t.Errorf("%s: under a budget of %d MiB the host's peak RSS grew by %d MiB, more than %d MiB", path.name, budget>>20, grew>>20, limit>>20)
		}
		most = max(most, grew)
	}
	grew, err := run(t, stackPath{name: "wazero alone", rt: checksRuntime}, 8, 200_000)
	if err != nil {
		t.Fatalf("without a budget: %v", err)
	}
	t.Logf("compiled straight with wazero: host peak RSS grew by %d MiB for 8 levels of 200,000 frames", grew>>20)
	if grew < 2*most {
		t.Errorf("without a budget the host's peak RSS grew by %d MiB only, under one by %d MiB: the test shows nothing", grew>>20, most>>20)
	}
}
