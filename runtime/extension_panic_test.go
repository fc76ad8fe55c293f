package runtime

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/emscripten"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// panickyExtension registers host module "env" as an embedder would,
// straight through wazero's builders, one function for each way to give
// one (WithGoModuleFunction, WithGoFunction, WithFunc with and without a
// context): each returns its argument plus one, and panics for 1.
var panickyExtension = ExtensionFunc(func(ctx context.Context, r wazero.Runtime) error {
	i32 := []api.ValueType{api.ValueTypeI32}
	step := func(x uint32) uint32 {
		if x == 1 {
			panic("the extension failed")
		}
		return x + 1
	}
	_, err := r.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
		stack[0] = uint64(step(uint32(stack[0])))
	}), i32, i32).Export("go_module").
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(_ context.Context, stack []uint64) {
		stack[0] = uint64(step(uint32(stack[0])))
	}), i32, i32).Export("plain").
		NewFunctionBuilder().WithFunc(step).Export("reflect").
		NewFunctionBuilder().WithFunc(func(_ context.Context, _ api.Module, x uint32) uint32 { return step(x) }).Export("reflect_module").
		Instantiate(ctx)
	return err
})

var extensionFuncs = []string{"go_module", "plain", "reflect", "reflect_module"}

// extensionReactor imports each of extensionFuncs from "env" and exports
// a function of the same name calling it.
func extensionReactor() []byte {
	var m wasmbin.Module
	typ := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	for _, name := range extensionFuncs {
		m.ImportFunc("env", name, typ)
	}
	for i, name := range extensionFuncs {
		m.Export(name, wasmbin.ExportFunc, m.Func(typ, nil, wasmbin.Cat([]byte{0x20, 0, 0x10}, wasmbin.ULEB(uint64(i)))))
	}
	return m.Bytes()
}

// TestExtensionHostPanicTraps: a host function an extension registered
// through wazero's builders, whichever way it was given, that panics
// traps a core module as a preview1 function's panic does
// (TestPreview1HostPanicTraps): the call fails with one line naming the
// function and the panic, without a host stack, the instance is marked
// trapped, so the next call is refused with cabi.ErrTrapped; the process
// and the runtime go on (a new instance's calls work) and nothing is
// left behind.
func TestExtensionHostPanicTraps(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := New(ctx, r, Config{StopFlag: true, Extensions: []Extension{panickyExtension}})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := CompileModule(ctx, r, extensionReactor())
	if err != nil {
		t.Fatal(err)
	}
	g0 := goruntime.NumGoroutine()
	for _, name := range extensionFuncs {
		t.Run(name, func(t *testing.T) {
			inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close(ctx)
			if res, err := inst.Call(name, 41); err != nil || res[0] != 42 {
				t.Fatalf("%s(41) = %v, %v; want 42", name, res, err)
			}
			_, err = inst.Call(name, 1)
			want := "env." + name + ": host panic: the extension failed"
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "goroutine ") || strings.Contains(err.Error(), ".go:") {
				t.Errorf("%s(1) = %v, want a trap saying %q and no host stack", name, err, want)
			}
			if !inst.Cabi().Trapped() {
				t.Error("the instance is not marked trapped")
			}
			if _, err := inst.Call(name, 41); !errors.Is(err, cabi.ErrTrapped) {
				t.Errorf("%s after the trap = %v, want it refused with cabi.ErrTrapped", name, err)
			}
		})
	}
	inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := inst.Call("plain", 7); err != nil || res[0] != 8 {
		t.Errorf("a new instance: plain(7) = %v, %v; want 8", res, err)
	}
	inst.Close(ctx)
	for deadline := time.Now().Add(5 * time.Second); goruntime.NumGoroutine() > g0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left behind: %d > %d", goruntime.NumGoroutine(), g0)
		}
	}
}

// TestExtensionWazeroExporter: an extension handing its host module
// builder to one of wazero's function exporters, which take wazero's own
// builder only, makes New fail saying what to do, not panic.
func TestExtensionWazeroExporter(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	_, err := New(ctx, r, Config{Extensions: []Extension{ExtensionFunc(func(ctx context.Context, r wazero.Runtime) error {
		_, err := emscripten.Instantiate(ctx, r)
		return err
	})}})
	if err == nil || !strings.Contains(err.Error(), "instantiate that module on the wazero.Runtime before runtime.New") {
		t.Fatalf("New = %v, want an error saying to instantiate the module before", err)
	}
}
