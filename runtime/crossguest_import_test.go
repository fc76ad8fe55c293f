package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
)

// victimModule is a reactor whose state only it should change: a counter
// in a mutable global, which bump increments, and a word of memory; get
// returns their sum. It exports the global (g), its memory and a table.
func victimModule() []byte {
	var v wasmbin.Module
	void := v.Type(nil, nil)
	ret := v.Type(nil, []byte{wasmbin.I32})
	v.Table(0x70, 1, 1)
	v.Memory(1, 1)
	g := wasmbin.ULEB(uint64(v.Global(wasmbin.I32, true, wasmbin.I32Const(0))))
	bump := v.Func(void, nil, wasmbin.Cat([]byte{0x23}, g, wasmbin.I32Const(1), []byte{0x6a, 0x24}, g))
	get := v.Func(ret, nil, wasmbin.Cat([]byte{0x23}, g, wasmbin.I32Const(0), []byte{0x28, 0x02, 0x00, 0x6a})) // g + i32.load(0)
	v.Export("bump", wasmbin.ExportFunc, bump)
	v.Export("get", wasmbin.ExportFunc, get)
	v.Export("g", wasmbin.ExportGlobal, 0)
	v.Export("memory", wasmbin.ExportMemory, 0)
	v.Export("table", wasmbin.ExportTable, 0)
	return v.Bytes()
}

// attackerModule imports one item of kind from module victim and, in its
// start function, changes the victim through it: calls bump, stores 100
// in its memory or its global; a table it only links to.
func attackerModule(victim, kind string) []byte {
	var a wasmbin.Module
	void := a.Type(nil, nil)
	var body []byte
	switch kind {
	case "function":
		imp := a.ImportFunc(victim, "bump", void)
		body = wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(imp)))
	case "memory":
		a.Import(victim, "memory", wasmbin.ExportMemory, []byte{0x00, 0x01})
		body = wasmbin.Cat(wasmbin.I32Const(0), wasmbin.I32Const(100), []byte{0x36, 0x02, 0x00})
	case "global":
		a.Import(victim, "g", wasmbin.ExportGlobal, []byte{wasmbin.I32, 0x01})
		body = wasmbin.Cat(wasmbin.I32Const(100), []byte{0x24, 0x00})
	case "table":
		a.Import(victim, "table", wasmbin.ExportTable, []byte{0x70, 0x00, 0x01})
	}
	a.Start(a.Func(void, nil, body))
	return a.Bytes()
}

// TestGuestImportsNoOtherGuest: a guest links to host modules only. A
// guest instantiated with a name (ModuleConfig.Name) is, to wazero, a
// module like any other, whose exports a module instantiated after it
// may import by that name. A second guest importing the first's function,
// memory, global or table is refused with ErrImportsGuest before it runs,
// and the first's state is unchanged, whether the modules were compiled
// with the stop flag or straight with wazero; a component whose core
// module imports it is refused too (as before: its instantiation does not
// supply the import). A module the embedder instantiated itself, with a
// name, stays importable.
// Before, every import linked: the second guest's start function called
// into the first, wrote its memory and its global.
func TestGuestImportsNoOtherGuest(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"wazero", "stop-flag"} {
		t.Run(mode, func(t *testing.T) {
			cfg, rcfg := wazero.NewRuntimeConfig(), runtime.Config{}
			compile := func(r wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) { return r.CompileModule(ctx, wasm) }
			if mode == "stop-flag" {
				cfg, rcfg.StopFlag = runtime.NewFastRuntimeConfig(), true
				compile = func(r wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
					return runtime.CompileModule(ctx, r, wasm)
				}
			}
			r := wazero.NewRuntimeWithConfig(ctx, cfg)
			defer r.Close(ctx)
			rt, err := runtime.New(ctx, r, rcfg)
			if err != nil {
				t.Fatal(err)
			}
			cv, err := compile(r, victimModule())
			if err != nil {
				t.Fatal(err)
			}
			victim, err := rt.Instantiate(ctx, cv, runtime.ModuleConfig{Name: "tenant-a"})
			if err != nil {
				t.Fatal(err)
			}
			defer victim.Close(ctx)
			state := func() uint64 {
				t.Helper()
				res, err := victim.Module().ExportedFunction("get").Call(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return res[0]
			}
			for _, kind := range []string{"function", "memory", "global", "table"} {
				ca, err := compile(r, attackerModule("tenant-a", kind))
				if err != nil {
					t.Fatal(err)
				}
				inst, err := rt.Instantiate(ctx, ca, runtime.ModuleConfig{Name: "tenant-b-" + kind})
				if err == nil {
					inst.Close(ctx)
				}
				if !errors.Is(err, runtime.ErrImportsGuest) {
					t.Errorf("a guest importing another guest's %s: %v, want runtime.ErrImportsGuest", kind, err)
				}
				if got := state(); got != 0 {
					t.Errorf("after a guest imported its %s, the other guest's state is %d, want 0", kind, got)
				}
			}

			// A component's core module importing the guest: refused
			// as an import its instantiation does not supply.
			c, err := component.Parse(wasmbin.CoreInstances(attackerModule("tenant-a", "function"), 1))
			if err != nil {
				t.Fatal(err)
			}
			ci, err := rt.InstantiateComponent(ctx, c, runtime.ModuleConfig{})
			if err == nil {
				ci.Close(ctx)
				t.Errorf("a component importing another guest's function was instantiated")
			}
			if got := state(); got != 0 {
				t.Fatalf("after a component imported its function, the other guest's state is %d, want 0", got)
			}

			// The embedder's own module, named, links.
			cl, err := r.CompileModule(ctx, victimModule())
			if err != nil {
				t.Fatal(err)
			}
			lib, err := r.InstantiateModule(ctx, cl, wazero.NewModuleConfig().WithName("library"))
			if err != nil {
				t.Fatal(err)
			}
			defer lib.Close(ctx)
			ca, err := compile(r, attackerModule("library", "function"))
			if err != nil {
				t.Fatal(err)
			}
			inst, err := rt.Instantiate(ctx, ca, runtime.ModuleConfig{})
			if err != nil {
				t.Fatalf("a guest importing the embedder's module: %v", err)
			}
			inst.Close(ctx)
			if res, err := lib.ExportedFunction("get").Call(ctx); err != nil || res[0] != 1 {
				t.Errorf("the embedder's module after a guest called its bump: %v %v, want 1", res, err)
			}
		})
	}
}
