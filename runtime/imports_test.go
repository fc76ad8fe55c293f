package runtime_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/link"
)

func TestCheckBinary(t *testing.T) {
	component := []byte("\x00asm\x0d\x00\x01\x00")
	if err := runtime.CheckBinary(component); !errors.Is(err, runtime.ErrComponent) {
		t.Fatalf("component: %v", err)
	} else if !strings.Contains(err.Error(), "InstantiateComponent") {
		t.Fatalf("component error does not say what to do: %v", err)
	}
	if err := runtime.CheckBinary([]byte("\x00asm\x01\x00\x00\x00")); err != nil {
		t.Fatalf("core module: %v", err)
	}
	if err := runtime.CheckBinary([]byte("#!/bin/sh\n")); err == nil {
		t.Fatal("not wasm accepted")
	}
	// A native executable (this test binary) says how to build a guest.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.CheckBinary(exe); err == nil || !strings.Contains(err.Error(), "native") ||
		!strings.Contains(err.Error(), "GOOS=wasip1 GOARCH=wasm") {
		t.Fatalf("native executable: %v", err)
	}
}

// TestMissingImportsGOOSJS: a Go program built with GOOS=js imports Go's
// JavaScript glue (module gojs); the error says to build for wasip1.
func TestMissingImportsGOOSJS(t *testing.T) {
	var m wasmbin.Module
	exit := m.ImportFunc("gojs", "runtime.wasmExit", m.Type([]byte{wasmbin.I32}, nil))
	m.Memory(1, 1)
	m.Export("mem", wasmbin.ExportMemory, 0)
	m.Export("run", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, wasmbin.Cat(wasmbin.I32Const(0), []byte{0x10}, wasmbin.ULEB(uint64(exit)))))
	err := instantiateWasm(t, m.Bytes())
	var mi *runtime.MissingImportsError
	if !errors.As(err, &mi) || !strings.Contains(err.Error(), "gojs#runtime.wasmExit") ||
		!strings.Contains(err.Error(), "built with GOOS=js") || !strings.Contains(err.Error(), "GOOS=wasip1 GOARCH=wasm") {
		t.Fatalf("err = %v", err)
	}
	if err := (&runtime.MissingImportsError{Missing: []string{"env#f (no such module)"}}).Error(); strings.Contains(err, "GOOS") {
		t.Fatalf("a module not built by Go is told about GOOS: %s", err)
	}
}

// TestMissingImportsHints: a guest importing wasi:tls from a runtime
// without the wasi:tls extension is told to list it, and one importing a
// module of the embedder's own that is not registered is told where to
// register it; a WASI 0.2 function the runtime lacks gets neither.
func TestMissingImportsHints(t *testing.T) {
	var m wasmbin.Module
	m.ImportFunc("wasi:tls/tls@0.2.0-pr104", "[resource-drop]client-connection", m.Type([]byte{wasmbin.I32}, nil))
	m.ImportFunc("wasitls:tls/extensions@0.3.0", "[resource-drop]host-identity", m.Type([]byte{wasmbin.I32}, nil))
	m.ImportFunc("env", "log", m.Type([]byte{wasmbin.I32, wasmbin.I32}, nil))
	m.ImportFunc("env", "now", m.Type(nil, []byte{wasmbin.I64}))
	m.Memory(1, 1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	err := instantiateWasm(t, m.Bytes())
	var mi *runtime.MissingImportsError
	if !errors.As(err, &mi) {
		t.Fatalf("err = %v, want a *MissingImportsError", err)
	}
	for _, want := range []string{
		"list tlshost.New(tlshost.Config{...}) (package runtime/tlshost) in runtime.Config.Extensions",
		"no module env is registered in the wazero runtime",
		"wazero.Runtime.NewHostModuleBuilder",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	if strings.Count(err.Error(), "no module env") != 1 {
		t.Errorf("the module of the embedder's is named more than once:\n%v", err)
	}
	other := (&runtime.MissingImportsError{Missing: []string{"wasi:io/streams@0.2.8#[method]output-stream.frobnicate (no such function)"}}).Error()
	if strings.Contains(other, "tlshost") || strings.Contains(other, "NewHostModuleBuilder") {
		t.Fatalf("a missing WASI function gets a hint meant for other imports: %s", other)
	}
}

func instantiate(t *testing.T, pkg string) error {
	return instantiateWasm(t, guestbuild.MustBuild(t, pkg))
}

func instantiateWasm(t *testing.T, wasm []byte) error {
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
	return err
}

func TestMissingImports(t *testing.T) {
	err := instantiate(t, "./testdata/badimports")
	var mi *runtime.MissingImportsError
	if !errors.As(err, &mi) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"wasi:frobnicate/widgets@0.2.0#spin (no such module)",
		"wasi:io/poll@0.2.8#no-such-function: this host implements wasi:io/poll up to 0.2.8, which has no such function (a newer patch version may have added it)"}
	if strings.Join(mi.Missing, "|") != strings.Join(want, "|") {
		t.Fatalf("missing = %q, want %q", mi.Missing, want)
	}
}

func TestMissingRealloc(t *testing.T) {
	err := instantiate(t, "./testdata/norealloc")
	var mr *runtime.MissingReallocError
	if !errors.As(err, &mr) || len(mr.Functions) != 1 || mr.Functions[0] != "wasi:io/poll@0.2.8#poll" {
		t.Fatalf("err = %v", err)
	}
}

// TestNewerPatchFunction: a function only a newer patch version has, a
// signature mismatch and an incompatible minor version are link errors
// naming interface, version and function; the function that exists at
// 0.2.12 is not one.
func TestNewerPatchFunction(t *testing.T) {
	err := instantiate(t, "./testdata/newerfunc")
	var mi *runtime.MissingImportsError
	if !errors.As(err, &mi) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"wasi:clocks/monotonic-clock@0.2.9#now: the guest imports it as (i32) -> (i64) but this host has () -> (i64) in 0.2.8",
		"wasi:clocks/monotonic-clock@0.3.0#resolution: no implemented version is compatible (implemented: 0.2.8)",
		"wasi:clocks/wall-clock@0.2.12#now-with-leap-seconds: this host implements wasi:clocks/wall-clock up to 0.2.8, which has no such function (a newer patch version may have added it)",
	}
	if strings.Join(mi.Missing, "\n") != strings.Join(want, "\n") {
		t.Fatalf("missing:\n%s\nwant:\n%s", strings.Join(mi.Missing, "\n"), strings.Join(want, "\n"))
	}
	var le *link.LinkError
	if !errors.As(err, &le) {
		t.Fatalf("no *link.LinkError in %v", err)
	}
	found := false
	for _, le := range mi.Link {
		found = found || le.Interface == "wasi:clocks/wall-clock" && le.Version == "0.2.12" && le.Function == "now-with-leap-seconds"
	}
	if len(mi.Link) != 3 || !found {
		t.Fatalf("link errors = %v", mi.Link)
	}
	if !strings.Contains(err.Error(), "wasi:clocks/wall-clock@0.2.12#now-with-leap-seconds") {
		t.Fatalf("message does not name the function: %v", err)
	}
}

// BenchmarkLinkImports measures what linking costs each Instantiate once
// the host modules exist: every import checked and Define's look-up, for
// a guest importing three patch versions.
func BenchmarkLinkImports(b *testing.B) {
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		b.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(b, "./testdata/patchversions"))
	if err != nil {
		b.Fatal(err)
	}
	imports := compiled.ImportedFunctions()
	for b.Loop() {
		for _, def := range imports {
			module, name, _ := def.Import()
			if !rt.Linker().Knows(module) {
				continue
			}
			if err := rt.Linker().Check(module, name, def.ParamTypes(), def.ResultTypes()); err != nil {
				b.Fatal(err)
			}
		}
		if err := rt.Linker().Define(ctx, r, imports); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(imports)), "imports")
}
