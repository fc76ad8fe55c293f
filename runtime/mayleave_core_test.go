package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
)

// A leaveImport is a host import a core module's cabi_realloc,
// cabi_offer_slot or post-return function calls in the may-leave tests:
// its module and name, its core type, the body that calls it and drops
// its result, and whether the call must trap.
type leaveImport struct {
	name         string
	module, fn   string
	params, res  []byte
	call         func(idx int) []byte
	mayLeave     bool // wasi_snapshot_preview1: the Go runtime's own imports
	wantFunction string
}

var leaveImports = []leaveImport{
	// Scalar glue: no instance looked up, no memory touched.
	{name: "monotonic-clock.now", module: "wasi:clocks/monotonic-clock@0.2.0", fn: "now", res: []byte{i64},
		call: func(f int) []byte { return wasmbin.Cat([]byte{0x10, byte(f)}, []byte{0x1a}) }},
	{name: "random.get-random-u64", module: "wasi:random/random@0.2.0", fn: "get-random-u64", res: []byte{i64},
		call: func(f int) []byte { return wasmbin.Cat([]byte{0x10, byte(f)}, []byte{0x1a}) }},
	{name: "insecure.get-insecure-random-u64", module: "wasi:random/insecure@0.2.0", fn: "get-insecure-random-u64", res: []byte{i64},
		call: func(f int) []byte { return wasmbin.Cat([]byte{0x10, byte(f)}, []byte{0x1a}) }},
	// Glue that begins a cabi.Call (a record through a return area).
	{name: "wall-clock.now", module: "wasi:clocks/wall-clock@0.2.0", fn: "now", params: []byte{i32},
		call: func(f int) []byte { return wasmbin.Cat(i32Const(0x200), []byte{0x10, byte(f)}) }},
	// An extension's own host function, given to wazero by hand.
	{name: "extension", module: "test:leave/ext", fn: "ping",
		call: func(f int) []byte { return []byte{0x10, byte(f)} }, wantFunction: "test:leave/ext.ping"},
	{name: "preview1.clock_time_get", module: "wasi_snapshot_preview1", fn: "clock_time_get", params: []byte{i32, i64, i32}, res: []byte{i32},
		call: func(f int) []byte {
			return wasmbin.Cat(i32Const(1), []byte{0x42, 0}, i32Const(0x200), []byte{0x10, byte(f), 0x1a})
		}, mayLeave: true},
}

// leaveModule is a core module importing imp (function 0) and
// wasi:random/random's get-random-bytes (function 1), whose function
// where (cabi_realloc, cabi_offer_slot or post-return) calls imp before
// it returns. It exports get, which calls get-random-bytes(8) with its
// return area at 16 (the host then asks for the offer slot, then calls
// cabi_realloc), and test:leave/api#f, () -> i32, with its post-return.
func leaveModule(imp leaveImport, where string) []byte {
	var m wasmbin.Module
	f := m.ImportFunc(imp.module, imp.fn, m.Type(imp.params, imp.res))
	bytes := m.ImportFunc("wasi:random/random@0.2.0", "get-random-bytes", m.Type([]byte{i64, i32}, nil))
	m.Memory(1, 1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	calls := func(w string) []byte {
		if w == where {
			return imp.call(f)
		}
		return nil
	}
	m.Export("cabi_realloc", wasmbin.ExportFunc, m.Func(m.Type([]byte{i32, i32, i32, i32}, []byte{i32}), nil,
		wasmbin.Cat(calls("cabi_realloc"), i32Const(0x1000))))
	m.Export("cabi_offer_slot", wasmbin.ExportFunc, m.Func(m.Type(nil, []byte{i32}), nil,
		wasmbin.Cat(calls("cabi_offer_slot"), i32Const(0))))
	m.Export("get", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil,
		wasmbin.Cat([]byte{0x42, 8}, i32Const(16), []byte{0x10, byte(bytes)})))
	m.Export("test:leave/api#f", wasmbin.ExportFunc, m.Func(m.Type(nil, []byte{i32}), nil, i32Const(1)))
	m.Export("cabi_post_test:leave/api#f", wasmbin.ExportFunc, m.Func(m.Type([]byte{i32}, nil), nil, calls("post-return")))
	return m.Bytes()
}

// leaveExtension registers test:leave/ext's ping, counting its calls.
func leaveExtension(pings *int) runtime.Extension {
	return runtime.ExtensionFunc(func(ctx context.Context, r wazero.Runtime) error {
		_, err := r.NewHostModuleBuilder("test:leave/ext").NewFunctionBuilder().
			WithFunc(func() { *pings++ }).Export("ping").Instantiate(ctx)
		return err
	})
}

// TestCoreMayLeave checks the Canonical ABI's may-leave rule for core
// modules: a host import a core module calls from its cabi_realloc, its
// cabi_offer_slot or a post-return function traps, naming the import and
// where it was called from, and the instance is poisoned, as a
// component's lowered import would trap. Scalar imports (a clock's now,
// get-random-u64), whose glue looks up no instance, and an extension's
// own host functions are held to it too: before, they ran and the call
// succeeded. wasi_snapshot_preview1's functions are not (a Go guest's
// cabi_realloc calls clock_time_get or poll_oneoff itself when its heap
// allocation runs the Go scheduler or collector), and they still run.
// Both ways of running core modules are covered, the stop flag's and
// wazero's termination checks (which watch the call's context from a
// goroutine of their own).
func TestCoreMayLeave(t *testing.T) {
	ctx := context.Background()
	for _, path := range corePaths {
		for _, where := range []string{"cabi_realloc", "cabi_offer_slot", "post-return"} {
			for _, imp := range leaveImports {
				t.Run(path.name+"/"+where+"/"+imp.name, func(t *testing.T) {
					pings := 0
					rt, compiled := path.setup(t, runtime.Config{Extensions: []runtime.Extension{leaveExtension(&pings)}}, leaveModule(imp, where))
					inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
					if err != nil {
						t.Fatal(err)
					}
					defer inst.Close(ctx)
					call := func() error {
						if where != "post-return" {
							_, err := inst.Call("get")
							return err
						}
						b := cabi.NewBinder(inst.Module(), "test:leave/api", "")
						f := b.Func("f", "", nil, []api.ValueType{i32})
						if err := b.Err(); err != nil {
							t.Fatal(err)
						}
						x := b.Exports(inst.Cabi(), nil, 1, false)
						s := x.Enter()
						if s == nil {
							return x.Refusal(&f)
						}
						return x.Leave(inst.Context(), &f, f.Fn.CallWithStack(inst.Context(), s))
					}
					err = call()
					if imp.mayLeave {
						if err != nil || inst.Cabi().Trapped() {
							t.Fatalf("call = %v (trapped %v), want wasi_snapshot_preview1 served", err, inst.Cabi().Trapped())
						}
						return
					}
					from := "called from cabi_realloc"
					if where == "post-return" {
						from = "called from post-return"
					}
					name := imp.wantFunction
					if name == "" {
						name = imp.module + "#" + imp.fn
					}
					if err == nil || !strings.Contains(err.Error(), from) || !strings.Contains(err.Error(), name) {
						t.Fatalf("call = %v, want a trap saying %s %s", err, name, from)
					}
					if pings != 0 {
						t.Fatalf("the extension's function ran %d times", pings)
					}
					t.Log(err)
					if !inst.Cabi().Trapped() {
						t.Fatal("the instance is not marked trapped")
					}
					if err := call(); !errors.Is(err, cabi.ErrTrapped) {
						t.Fatalf("a second call = %v, want a refusal wrapping cabi.ErrTrapped", err)
					}
				})
			}
		}
	}
}

// TestCoreMayLeaveElsewhere checks that the rule stays inside those
// functions: the same imports called from an export, after a call that
// went through cabi_realloc and a post-return, run.
func TestCoreMayLeaveElsewhere(t *testing.T) {
	ctx := context.Background()
	var m wasmbin.Module
	var body []byte
	for _, imp := range leaveImports {
		body = append(body, imp.call(m.ImportFunc(imp.module, imp.fn, m.Type(imp.params, imp.res)))...)
	}
	bytes := m.ImportFunc("wasi:random/random@0.2.0", "get-random-bytes", m.Type([]byte{i64, i32}, nil))
	m.Memory(1, 1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export("cabi_realloc", wasmbin.ExportFunc, m.Func(m.Type([]byte{i32, i32, i32, i32}, []byte{i32}), nil, i32Const(0x1000)))
	m.Export("all", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil,
		wasmbin.Cat([]byte{0x42, 8}, i32Const(16), []byte{0x10, byte(bytes)}, body)))
	for _, path := range corePaths {
		t.Run(path.name, func(t *testing.T) {
			pings := 0
			rt, compiled := path.setup(t, runtime.Config{Extensions: []runtime.Extension{leaveExtension(&pings)}}, m.Bytes())
			inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close(ctx)
			for i := range 3 {
				if _, err := inst.Call("all"); err != nil {
					t.Fatal(err)
				}
				if pings != i+1 {
					t.Fatalf("after %d calls the extension's function ran %d times", i+1, pings)
				}
			}
		})
	}
}
