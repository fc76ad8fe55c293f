package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime/component"
)

// trapStack is the stack budget of TestStackTrapThenCall, small enough
// that calc.c's recurse runs out of it a few hundred calls deep.
const trapStack = 64 << 10

// stackTrapPaths are the two ways a guest runs, the stop flag and
// wazero's termination checks, each a Runtime under Limits.Stack =
// trapStack and the compile path of its core modules.
func stackTrapPaths(t *testing.T) []struct {
	name    string
	rt      *Runtime
	compile func(context.Context, wazero.Runtime, []byte, Limits) (wazero.CompiledModule, error)
} {
	ctx := context.Background()
	mk := func(stop bool) *Runtime {
		cfg := NewRuntimeConfig()
		if stop {
			cfg = NewFastRuntimeConfig()
		}
		r := wazero.NewRuntimeWithConfig(ctx, cfg)
		t.Cleanup(func() { r.Close(ctx) })
		rt, err := New(ctx, r, Config{StopFlag: stop, Limits: Limits{Stack: trapStack}})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	return []struct {
		name    string
		rt      *Runtime
		compile func(context.Context, wazero.Runtime, []byte, Limits) (wazero.CompiledModule, error)
	}{
		{"stop flag", mk(true), CompileModuleLimits},
		{"wazero checks", mk(false), CompileModuleChecked},
	}
}

// deepest returns the deepest recursion fits(n) allows, between 1, which
// it must allow, and hi, which it must not.
func deepest(t *testing.T, hi uint32, fits func(n uint32) bool) uint32 {
	t.Helper()
	lo := uint32(1)
	if !fits(lo) || fits(hi) {
		t.Fatalf("recurse(%d) must fit and recurse(%d) must not", lo, hi)
	}
	for hi-lo > 1 {
		if mid := lo + (hi-lo)/2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// TestStackTrapThenCall: a guest traps deep in recursion at its stack
// budget (calc.c's recurse, under Limits.Stack of 64 KiB), and is called
// again, with the stop flag and under wazero's termination checks.
//
// As a core module called through Instance.Call, the next outermost call
// has the whole budget again: it recurses exactly as deep as a fresh
// instance's first call can, the deepest found on fresh instances, and
// one call deeper traps again (the frames the trap left counted are not
// carried over, and nothing is added).
//
// As a component, the trap poisons the instance, as any trap does (the
// Component Model forbids entering an instance that trapped): every
// later call is refused before the guest runs, on its spent budget, with
// an error wrapping cabi.ErrTrapped that says to make a new instance; a
// new instance of the same component recurses as deep as the first did.
func TestStackTrapThenCall(t *testing.T) {
	ctx := context.Background()
	coreWasm := cguest.Build(t, calcSpec(true))
	c, err := component.Parse(cguest.Build(t, calcSpec(false)))
	if err != nil {
		t.Fatal(err)
	}
	const tooDeep = 1 << 20
	for _, path := range stackTrapPaths(t) {
		t.Run(path.name+"/core module", func(t *testing.T) {
			compiled, err := path.compile(ctx, path.rt.Wazero(), coreWasm, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			instantiate := func() *Instance {
				inst, err := path.rt.Instantiate(ctx, compiled, ModuleConfig{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { inst.Close(ctx) })
				return inst
			}
			recurse := func(inst *Instance, n uint32) error {
				res, err := inst.Call("recurse", uint64(n))
				if err == nil && uint32(res[0]) != n {
					t.Fatalf("recurse(%d) = %d", n, res[0])
				}
				return err
			}
			m := deepest(t, tooDeep, func(n uint32) bool { return recurse(instantiate(), n) == nil })
			if m < 100 {
				t.Fatalf("recurse fits only %d calls deep in %d bytes", m, trapStack)
			}
			t.Logf("recurse fits %d calls deep", m)
			inst := instantiate()
			for i := range 3 {
				if err := recurse(inst, tooDeep); !errors.Is(err, cabi.ErrStackExceeded) {
					t.Fatalf("round %d: recurse(%d): %v, want the stack budget's trap", i, tooDeep, err)
				}
				if err := recurse(inst, m); err != nil {
					t.Fatalf("round %d: recurse(%d) after the trap: %v, want the whole budget, as deep as a fresh instance", i, m, err)
				}
				if err := recurse(inst, m+1); !errors.Is(err, cabi.ErrStackExceeded) {
					t.Fatalf("round %d: recurse(%d) after the trap: %v, want the budget's trap, as on a fresh instance", i, m+1, err)
				}
			}
		})
		t.Run(path.name+"/component", func(t *testing.T) {
			instantiate := func() *ComponentInstance {
				inst, err := path.rt.InstantiateComponent(ctx, c, ModuleConfig{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { inst.Close(ctx) })
				return inst
			}
			call := func(inst *ComponentInstance, name string, args ...any) (any, error) {
				f, err := inst.Component().Func(name)
				if err != nil {
					t.Fatal(err)
				}
				return f.Call(inst.Context(), args...)
			}
			fits := func(inst *ComponentInstance, n uint32) bool {
				v, err := call(inst, "recurse", n)
				if err == nil && v != n {
					t.Fatalf("recurse(%d) = %v", n, v)
				}
				return err == nil
			}
			m := deepest(t, tooDeep, func(n uint32) bool { return fits(instantiate(), n) })
			if m < 100 {
				t.Fatalf("recurse fits only %d calls deep in %d bytes", m, trapStack)
			}
			t.Logf("recurse fits %d calls deep", m)
			inst := instantiate()
			if _, err := call(inst, "recurse", uint32(tooDeep)); !errors.Is(err, cabi.ErrStackExceeded) {
				t.Fatalf("recurse(%d): %v, want the stack budget's trap", tooDeep, err)
			}
			for _, tc := range []struct {
				name string
				args []any
			}{{"recurse", []any{uint32(1)}}, {"add", []any{int32(1), int32(2)}}, {"recurse", []any{m}}} {
				_, err := call(inst, tc.name, tc.args...)
				if !errors.Is(err, cabi.ErrTrapped) || errors.Is(err, cabi.ErrStackExceeded) ||
					!strings.Contains(err.Error(), tc.name+": instance has trapped before") || !strings.Contains(err.Error(), "make a new instance") {
					t.Fatalf("%s%v after the trap: %v, want the refusal of an instance that trapped", tc.name, tc.args, err)
				}
			}
			if !fits(instantiate(), m) {
				t.Fatalf("recurse(%d) on a new instance after the trap: want the whole budget", m)
			}
		})
	}
}
