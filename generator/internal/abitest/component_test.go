package abitest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/calc/test/kitchen/calc"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
)

// calcComponent builds testdata/calccomp/calc.c (with the extra clang
// flags) into a component (`jco embed`, `jco new`), instantiates it as a
// guest of a runtime.Runtime and binds the generated host callers of
// test:kitchen/calc to its export through Instance.Guest. The context
// returned carries the guest's state, for every call.
func calcComponent(t *testing.T, cflags ...string) (context.Context, *cabi.Instance, *component.Instance, *calc.Exports) {
	t.Helper()
	inst := cComponent(t, "./testdata/calccomp/calc.c", "./testdata/calccomp/calc.wit", "calc-component", cflags...)
	g, err := inst.Component().Guest(calc.ModuleName + "@" + calc.Version)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := calc.Bind(inst.Cabi(), g, "0.2.0"); err == nil || !strings.Contains(err.Error(), "test:kitchen/calc@0.2.0#add is not exported") {
		t.Fatalf("binding another version = %v, want an error naming the missing functions", err)
	}
	if _, err := inst.Component().Guest("test:kitchen/calc"); err == nil || !strings.Contains(err.Error(), "test:kitchen/calc@0.1.0") {
		t.Fatalf("Guest of a name not exported = %v, want an error listing the exports", err)
	}
	x, err := calc.Bind(inst.Cabi(), g, "")
	if err != nil {
		t.Fatal(err)
	}
	return inst.Context(), inst.Cabi(), inst.Component(), x
}

// cComponent builds the C source src (with the extra clang flags) into a
// component of the world world of the WIT file wit (`jco embed`, `jco
// new`) and instantiates it as a guest of a runtime.Runtime.
func cComponent(t *testing.T, src, wit, world string, cflags ...string) *runtime.ComponentInstance {
	t.Helper()
	b := cguest.Build(t, cguest.Spec{
		Sources: []string{src},
		CFlags:  append([]string{"-nostdlib", "-Wl,--no-entry", "-Wall", "-Werror"}, cflags...),
		WIT:     wit, World: world,
	})
	c, err := component.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := newRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := rt.InstantiateComponent(ctx, c, runtime.ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(ctx) })
	return inst
}

// TestGeneratedCallerComponent calls a C component's test:kitchen/calc
// export through the same generated host callers TestGeneratedGuestExports
// runs on a Go core module: each lifted core function with the memory,
// realloc and post-return of its own canon lift (shout's post-return
// overwrites what it returned, so a lift after it would fail the check).
func TestGeneratedCallerComponent(t *testing.T) {
	ctx, _, _, x := calcComponent(t)
	checkCalc(t, ctx, x)
}

// TestGeneratedCallerComponentHostile: a component whose shout returns a
// string pointer outside its memory. The call fails with a trap naming the
// function, the instance is trapped for the generated callers and for
// Func.Call alike, and the host goes on.
func TestGeneratedCallerComponentHostile(t *testing.T) {
	ctx, ci, inst, x := calcComponent(t, "-DHOSTILE")
	if n, err := x.Add(ctx, 2, 3); err != nil || n != 5 {
		t.Fatalf("add before = %d, %v", n, err)
	}
	_, err := x.Shout(ctx, "hi")
	var trap *cabi.Trap
	if !errors.As(err, &trap) || trap.Func != "test:kitchen/calc@0.1.0#shout" || !strings.Contains(err.Error(), "0xfffffff0") {
		t.Fatalf("shout = %v, want a trap naming test:kitchen/calc@0.1.0#shout and the pointer", err)
	}
	if !ci.Trapped() {
		t.Fatal("instance not marked trapped")
	}
	if _, err := x.Add(ctx, 2, 3); err == nil || !strings.Contains(err.Error(), "trapped") {
		t.Fatalf("add after the trap = %v, want a refusal", err)
	}
	f, err := inst.Func(calc.ModuleName+"@"+calc.Version, "noop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Call(ctx); err == nil || !strings.Contains(err.Error(), "trapped") {
		t.Fatalf("Func.Call after the trap = %v, want a refusal", err)
	}
}

// TestGeneratedCallerComponentFlagsUnknownBits: a flags result with
// bits beyond its labels lifts to the bits of its labels through the
// generated callers and Func.Call alike, as the Canonical ABI says, and
// neither traps. The component's toggle returns its argument with trim
// and twice flipped, so an argument with unknown bits comes back with
// them. Before, Func.Call failed the call and poisoned the instance where
// the generated callers masked the bits.
func TestGeneratedCallerComponentFlagsUnknownBits(t *testing.T) {
	ctx, ci, inst, x := calcComponent(t)
	if o, err := x.Toggle(ctx, calc.Opts(0xf0)|calc.OptsTrim); err != nil || o != calc.OptsTwice {
		t.Fatalf("generated toggle = %#x, %v, want %#x", o, err, calc.OptsTwice)
	}
	f, err := inst.Func(calc.ModuleName+"@"+calc.Version, "toggle")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Call(ctx, uint32(0xf0|calc.OptsTrim)); err != nil || v != uint32(calc.OptsTwice) {
		t.Fatalf("Func.Call toggle = %v, %v, want %d", v, err, calc.OptsTwice)
	}
	if ci.Trapped() {
		t.Fatal("the instance is marked trapped")
	}
	if n, err := x.Add(ctx, 2, 3); err != nil || n != 5 {
		t.Fatalf("add after = %d, %v", n, err)
	}
}

// TestGeneratedCallerComponentTypes: Bind checks a component's function
// types, which the core signatures cannot tell apart. The component's
// exports read back as the WIT the bindings were made for (records,
// variants, enums, flags and results spelled out; resources by name), and
// an export whose type differs only above the core level (a list<u8> for
// a string, a u32 for an enum) is a bind-time error naming it and both
// types.
func TestGeneratedCallerComponentTypes(t *testing.T) {
	inst := cComponent(t, "./testdata/calccomp/calc.c", "./testdata/calccomp/calc.wit", "calc-component")
	g, err := inst.Component().Guest(calc.ModuleName + "@" + calc.Version)
	if err != nil {
		t.Fatal(err)
	}
	tg, ok := g.(cabi.TypedGuest)
	if !ok {
		t.Fatal("a component's Guest is not a cabi.TypedGuest")
	}
	for name, want := range map[string]string{
		"shout":    "func(s: string) -> string",
		"scale":    "func(p: record{x: s32, y: s32}, k: f64) -> record{x: s32, y: s32}",
		"classify": "func(v: variant{none, int(s64), real(f32), text(string), at(record{x: s32, y: s32})}) -> variant{none, int(s64), real(f32), text(string), at(record{x: s32, y: s32})}",
		"check":    "func(v: result<u32, string>) -> result<u32, enum{not-found, denied}>",
		"toggle":   "func(o: flags{trim, upper, twice}) -> flags{trim, upper, twice}",
		"pairs":    "func(v: list<record{name: string, n: u32, tags: list<string>}>) -> list<record{name: string, n: u32, tags: list<string>}>",
		"triple":   "func(v: tuple<u8, string, f64>) -> tuple<u8, string, f64>",
		"lengths":  "func(v: option<string>) -> option<u32>",
		"noop":     "func()",
	} {
		if got, ok := tg.ExportType("test:kitchen/calc@0.1.0#" + name); !ok || got != want {
			t.Errorf("type of %s = %q, %v; want %q", name, got, ok, want)
		}
	}

	i32 := api.ValueTypeI32
	b := cabi.NewBinder(g, calc.ModuleName, calc.Version)
	b.Func("shout", "func(s: list<u8>) -> list<u8>", []api.ValueType{i32, i32}, []api.ValueType{i32})
	b.Func("flip", "func(m: u32) -> u32", []api.ValueType{i32}, []api.ValueType{i32})
	b.Func("add", "func(a: u32, b: u32) -> u32", []api.ValueType{i32, i32}, []api.ValueType{i32})
	err = b.Err()
	for _, want := range []string{
		"test:kitchen/calc@0.1.0#shout has the type func(s: string) -> string, want func(s: list<u8>) -> list<u8>",
		"test:kitchen/calc@0.1.0#flip has the type func(m: enum{up, down}) -> enum{up, down}, want func(m: u32) -> u32",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("binding mistyped functions: %v, want %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "#add") {
		t.Errorf("a well-typed function is reported: %v", err)
	}
}
