package stopcheck_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/internal/wasmsize"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// spinModule exports spin, a function that loops forever in pure wasm,
// loopParams, a loop with a parameter and a result (a multi-value block
// type), and glob, which returns the value of defined global 1 (after an
// imported one), to check no index moved.
func spinModule() []byte {
	var m wasmbin.Module
	void := m.Type(nil, nil)
	i32i32 := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	ret := m.Type(nil, []byte{wasmbin.I32})
	spin := m.Func(void, nil, []byte{0x03, 0x40, 0x0c, 0x00, 0x0b})
	// loop (param i32) (result i32): i32.const 1, i32.add, br 0 forever
	loop := m.Func(i32i32, nil, wasmbin.Cat([]byte{0x20, 0x00, 0x03}, wasmbin.ULEB(uint64(i32i32)),
		[]byte{0x41, 0x01, 0x6a, 0x0c, 0x00, 0x0b}))
	m.Global(wasmbin.I32, false, wasmbin.I32Const(7))
	m.Global(wasmbin.I32, true, wasmbin.I32Const(42))
	glob := m.Func(ret, nil, []byte{0x23, 0x01})
	m.Export("spin", wasmbin.ExportFunc, spin)
	m.Export("loop", wasmbin.ExportFunc, loop)
	m.Export("glob", wasmbin.ExportFunc, glob)
	return m.Bytes()
}

// tailModule exports spin, a function that tail-calls itself forever.
func tailModule() []byte {
	var m wasmbin.Module
	void := m.Type(nil, nil)
	spin := m.Func(void, nil, []byte{0x12, 0x00})
	m.Export("spin", wasmbin.ExportFunc, spin)
	return m.Bytes()
}

func instantiate(t *testing.T, wasm []byte, features api.CoreFeatures) api.Module {
	t.Helper()
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(false)
	if features != 0 {
		cfg = cfg.WithCoreFeatures(features)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { r.Close(ctx) })
	out, err := stopcheck.Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// TestStopsSpinningGuest sets the global while a pure-wasm loop (or tail
// call) runs and sees the call trap within a second.
func TestStopsSpinningGuest(t *testing.T) {
	for _, tc := range []struct {
		name, fn string
		wasm     []byte
		features api.CoreFeatures
		params   []uint64
	}{
		{"loop", "spin", spinModule(), 0, nil},
		{"loop with params", "loop", spinModule(), 0, []uint64{0}},
		{"tail call", "spin", tailModule(), api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := instantiate(t, tc.wasm, tc.features)
			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction(tc.fn).Call(context.Background(), tc.params...)
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("returned before the stop: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			mod.ExportedGlobal(stopcheck.GlobalName).(api.MutableGlobal).Set(1)
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("stopped with %v, want the unreachable trap", err)
				}
			case <-time.After(10 * time.Second): // the loop sees it at once; room for load
				t.Fatal("not stopped within 10 s of setting the global")
			}
		})
	}
}

// TestStartExported: a module's start function is exported under
// StartName instead of running at instantiation, for the host to call
// once the stop global is armed.
func TestStartExported(t *testing.T) {
	var m wasmbin.Module
	g := m.Global(wasmbin.I32, true, wasmbin.I32Const(0))
	m.Export("g", wasmbin.ExportGlobal, g)
	m.ImportFunc("env", "nop", m.Type(nil, nil)) // the start function's index counts it
	m.Start(m.Func(m.Type(nil, nil), nil, wasmbin.Cat(wasmbin.I32Const(7), []byte{0x24}, wasmbin.ULEB(uint64(g)))))
	out, err := stopcheck.Instrument(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := r.NewHostModuleBuilder("env").NewFunctionBuilder().WithFunc(func() {}).Export("nop").Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if v := mod.ExportedGlobal("g").Get(); v != 0 {
		t.Fatalf("g = %d after instantiation: the start function ran", v)
	}
	start := mod.ExportedFunction(stopcheck.StartName)
	if start == nil {
		t.Fatalf("no export %q", stopcheck.StartName)
	}
	if _, err := start.Call(ctx); err != nil {
		t.Fatal(err)
	}
	if v := mod.ExportedGlobal("g").Get(); v != 7 {
		t.Fatalf("g = %d after calling the start function, want 7", v)
	}
}

// TestKeepsIndices checks an existing global keeps its index and value.
func TestKeepsIndices(t *testing.T) {
	mod := instantiate(t, spinModule(), 0)
	res, err := mod.ExportedFunction("glob").Call(context.Background())
	if err != nil || res[0] != 42 {
		t.Fatalf("glob = %v, %v; want 42", res, err)
	}
}

// TestImportedGlobals checks the new global comes after imported ones.
func TestImportedGlobals(t *testing.T) {
	b := wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		wasmbin.Section(2, wasmbin.Vec([][]byte{wasmbin.Cat(wasmbin.Name("env"), wasmbin.Name("g"), []byte{0x03, wasmbin.I32, 0x00})})))
	out, err := stopcheck.Instrument(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	compiled, err := r.CompileModule(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	_ = compiled
	if !strings.Contains(string(out), stopcheck.GlobalName+"\x03\x01") {
		t.Fatalf("export does not name global 1: %x", out)
	}
}

// TestRefuses checks malformed and unsupported modules get an error and
// no output.
func TestRefuses(t *testing.T) {
	body := func(code ...byte) []byte {
		var m wasmbin.Module
		m.Func(m.Type(nil, nil), nil, code)
		return m.Bytes()
	}
	valid := body()
	withExport := func() []byte {
		var m wasmbin.Module
		m.Global(wasmbin.I32, true, wasmbin.I32Const(0))
		m.Export(stopcheck.GlobalName, wasmbin.ExportGlobal, 0)
		return m.Bytes()
	}()
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "not a WebAssembly 1.0 core module"},
		{"component", []byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00}, "not a WebAssembly 1.0 core module"},
		{"truncated", valid[:len(valid)-2], "where 2 are left"},
		{"atomics", body(0xfe, 0x03, 0x00), "unsupported opcode 0xfe"},
		{"exceptions", body(0x06, 0x40, 0x0b), "unsupported opcode 0x06"},
		{"relaxed simd", body(0xfd, 0x80, 0x02), "unsupported opcode 0xfd 256"},
		{"unknown misc", body(0xfc, 0x12), "unsupported opcode 0xfc 18"},
		{"typed block", body(0x02, 0x63, 0x70, 0x0b), "unknown block type"},
		{"long leb", body(0x0c, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), "LEB128 number too long"},
		{"leb range", body(0x0c, 0x80, 0x80, 0x80, 0x80, 0x70), "LEB128 number out of range"},
		{"no end", body(0x03, 0x40), "does not end with end"},
		{"after end", body(0x0b, 0x01), "after the function's end"},
		{"section id", append(append([]byte(nil), valid...), 0x0e, 0x00), "unknown section id 14"},
		{"instrumented", withExport, "already exports"},
		// A start section Instrument drops must have been valid.
		{"start order", wasmbin.Cat(valid, wasmbin.Section(8, []byte{0x00})), "out of order"},
		{"start type", func() []byte {
			var m wasmbin.Module
			m.Start(m.Func(m.Type([]byte{wasmbin.I32}, nil), nil, nil))
			return m.Bytes()
		}(), "does not have the type [] -> []"},
		{"start index", func() []byte {
			var m wasmbin.Module
			m.Func(m.Type(nil, nil), nil, nil)
			m.Start(1)
			return m.Bytes()
		}(), "does not exist"},
		{"start name", func() []byte {
			var m wasmbin.Module
			m.Export(stopcheck.StartName, wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, nil))
			return m.Bytes()
		}(), "already exports"},
		// Tables starting past what the host allows (DefaultTableEntries).
		{"table minimums", module(wasmbin.Section(4, wasmbin.Vec([][]byte{
			wasmbin.Cat([]byte{0x70, 0x00}, wasmbin.ULEB(stopcheck.DefaultTableEntries)), {0x70, 0x00, 0x01}}))), "more than the 10000000 the host allows (stopcheck.Options.TableEntries)"},
		// Another instance's stop global, imported, could be cleared
		// between that instance's checks (TestStopGlobalNotShared in
		// runtime/component).
		{"imports stop", importing(stopcheck.GlobalName, []byte{0x03, wasmbin.I32, 0x01}), `imports "wasitls:stop" from "a"`},
		{"imports start", importing(stopcheck.StartName, []byte{0x00, 0x00}), `imports "wasitls:start" from "a"`},
		// An invalid module naming what Instrument adds would become
		// valid, the guest writing its own countdown and stop flag.
		{"countdown set", body(0x03, 0x40, 0x41, 0x01, 0x24, 0x01, 0x0c, 0x00, 0x0b), "global index past"},
		{"stop get", body(0x23, 0x00, 0x1a), "global index past"},
		{"table grow", body(0xd0, 0x70, 0x41, 0x00, 0xfc, 0x0f, 0x00, 0x1a), "table index past"},
		{"call indirect", body(0x41, 0x00, 0x11, 0x00, 0x00), "table index past"},
		{"table copy", body(0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0e, 0x00, 0x00), "table index past"},
		// An invalid module naming a type just past its own would become
		// valid with the types the stack budget appends (blockTypes).
		{"block type", body(0x02, 0x01, 0x0b), "type index past"},
		{"call indirect type", body(0x41, 0x00, 0x11, 0x01, 0x00), "type index past"},
		{"import type", importing("f", []byte{0x00, 0x01}), "type index past"},
		{"imports stack", importing(stopcheck.StackName, []byte{0x03, wasmbin.I32, 0x01}), `imports "wasitls:stack" from "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := stopcheck.Instrument(tc.wasm)
			var se *stopcheck.Error
			if out != nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Instrument = %d bytes, %v; want an error with %q", len(out), err, tc.want)
			}
			// InstrumentStack refuses the same, but the stop global's
			// name, which it does not reserve.
			out, err = stopcheck.InstrumentStack(tc.wasm, stopcheck.Options{})
			if tc.name == "instrumented" || tc.name == "imports stop" {
				if err != nil {
					t.Fatalf("InstrumentStack: %v", err)
				}
				return
			}
			if out != nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("InstrumentStack = %d bytes, %v; want an error with %q", len(out), err, tc.want)
			}
		})
	}
}

// module is a core module of sections.
func module(sections ...[]byte) []byte {
	return wasmbin.Cat([]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}, wasmbin.Cat(sections...))
}

// importing is a module importing name from module "a" with the import
// description desc (kind and type).
func importing(name string, desc []byte) []byte {
	return module(
		wasmbin.Section(1, wasmbin.Vec([][]byte{{0x60, 0x00, 0x00}})),
		wasmbin.Section(2, wasmbin.Vec([][]byte{wasmbin.Cat(wasmbin.Name("a"), wasmbin.Name(name), desc)})))
}

// FuzzInstrument checks Instrument and InstrumentStack never panic, and
// that wazero compiles what they output exactly when it compiled the
// input.
func FuzzInstrument(f *testing.F) {
	f.Add(spinModule())
	f.Add(tailModule())
	var m wasmbin.Module
	m.Memory(1, -1)
	m.Func(m.Type(nil, nil), []byte{0x01, 0x01, wasmbin.I32},
		[]byte{0x41, 0x00, 0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, 0x1a,
			0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x0d, 0x01, 0x0e, 0x01, 0x00, 0x01, 0x0b, 0x0b,
			0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0b, 0x00})
	f.Add(m.Bytes())
	// Several results and no type [] -> them: the rewrite appends one.
	f.Add(multiModule(false))
	// A block type naming the type the rewrite would append: invalid,
	// and must stay so.
	var past wasmbin.Module
	two := past.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32, wasmbin.I32})
	leaf := past.Func(past.Type(nil, nil), nil, nil)
	past.Func(two, nil, wasmbin.Cat([]byte{0x10}, wasmbin.ULEB(uint64(leaf)),
		[]byte{0x02, 0x02, 0x41, 0x00, 0x41, 0x00, 0x0b}))
	f.Add(past.Bytes())
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
	defer r.Close(ctx)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		var before wazero.CompiledModule
		var errBefore error
		compiled := false
		for _, rw := range []func([]byte) ([]byte, error){
			stopcheck.Instrument,
			func(b []byte) ([]byte, error) { return stopcheck.InstrumentStack(b, stopcheck.Options{}) },
		} {
			out, err := rw(wasm)
			if err != nil {
				if out != nil {
					t.Fatal("output with an error")
				}
				continue
			}
			if wasmsize.Check(wasm) != nil {
				return // wazero would allocate for counts the bytes do not hold
			}
			if !compiled {
				before, errBefore = r.CompileModule(ctx, wasm)
				compiled = true
			}
			after, errAfter := r.CompileModule(ctx, out)
			switch {
			case errBefore == nil && errAfter != nil:
				t.Fatalf("compiled before instrumenting, not after: %v", errAfter)
			case errBefore != nil && errAfter == nil && !strings.Contains(errBefore.Error(), "custom section"):
				// (wazero refuses some custom sections only at the module's
				// end, where the rewrite may append sections after them.)
				// The rewrite must never make an invalid module valid: it
				// could name the globals, table and types Instrument adds.
				t.Fatalf("compiled after instrumenting, not before: %v", errBefore)
			}
			if after != nil {
				after.Close(ctx)
			}
		}
		if before != nil {
			before.Close(ctx)
		}
	})
}

// TestCapTables: CapTables changes the table section only, giving each
// table its share of Options.TableEntries as its maximum (a smaller
// declared one kept), and refuses tables starting past the limit, or a
// table section with bytes past its tables.
func TestCapTables(t *testing.T) {
	tables := func(items ...[]byte) []byte { return wasmbin.Section(4, wasmbin.Vec(items)) }
	custom := wasmbin.Cat([]byte{0x00, 0x02}, wasmbin.Name("x"))
	in := module(custom, tables([]byte{0x70, 0x00, 0x02}, []byte{0x6f, 0x01, 0x01, 0x05}), custom)
	out, err := stopcheck.CapTables(in, stopcheck.Options{TableEntries: 103})
	if err != nil {
		t.Fatal(err)
	}
	// 103 less the minimums (3), shared: 50 more each.
	want := module(custom, tables([]byte{0x70, 0x01, 0x02, 52}, []byte{0x6f, 0x01, 0x01, 0x05}), custom)
	if !bytes.Equal(out, want) {
		t.Fatalf("CapTables = % x\nwant        % x", out, want)
	}
	if got := stopcheck.TableEntries(out); got != 57 {
		t.Fatalf("TableEntries = %d, want 57", got)
	}
	if out, err := stopcheck.CapTables(module(custom), stopcheck.Options{}); err != nil || !bytes.Equal(out, module(custom)) {
		t.Fatalf("CapTables of a module without tables = % x, %v", out, err)
	}
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"minimums", tables([]byte{0x70, 0x00, 100}, []byte{0x70, 0x00, 4}), "104 entries together, more than the 103"},
		{"trailing", wasmbin.Section(4, wasmbin.Cat(wasmbin.Vec([][]byte{{0x70, 0x00, 0x01}}), []byte{0x00})), "bytes left at the end of the table section"},
		{"count", wasmbin.Section(4, wasmbin.Cat(wasmbin.ULEB(1<<32-1), []byte{0x70})), "tables declared in a section of"},
		{"flags", tables([]byte{0x70, 0x04, 0x01}), "table limits flags 0x04"},
	} {
		out, err := stopcheck.CapTables(module(tc.wasm), stopcheck.Options{TableEntries: 103})
		var se *stopcheck.Error
		if out != nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CapTables = %d bytes, %v; want an error with %q", tc.name, len(out), err, tc.want)
		}
	}
}
