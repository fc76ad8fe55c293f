package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
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

// TestStackLimit: a call recursing without end traps at the stack budget
// (Limits.Stack), reported as such by every way of calling it, and a
// reactor's next Instance.Call has the whole budget again.
func TestStackLimit(t *testing.T) {
	const budget = 1 << 20
	rt := fastRuntime(t, runtime.Config{Limits: runtime.Limits{Stack: budget}})
	compiled, err := runtime.CompileModule(context.Background(), rt.Wazero(), recurseReactor())
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
}

// TestStackLimitGoGuest: a Go guest recursing 100,000 calls deep runs
// under the default budget; under a budget of 1 MiB it traps with the
// budget's error, naming the flag.
func TestStackLimitGoGuest(t *testing.T) {
	rt := fastRuntime(t, runtime.Config{})
	compiled, err := runtime.CompileModule(context.Background(), rt.Wazero(), guestbuild.MustBuild(t, "./testdata/hog"))
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
}
