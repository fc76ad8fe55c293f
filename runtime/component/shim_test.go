package component

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime/link"
)

// core is a core module binary of sections.
func core(sections ...[]byte) []byte {
	return cat([]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}, cat(sections...))
}

var (
	// funcI32 is a type section of one type, (func (param i32)).
	funcI32 = section(1, vec([]byte{0x60, 0x01, 0x7f, 0x00}))
	// shimTable imports a table of one funcref, as a fixup does.
	shimTable = cat(name("shim"), name("$imports"), []byte{0x01, 0x70, 0x01, 0x01, 0x01})
)

// testShim is wit-component's shim of one (func (param i32)) slot;
// extra is inserted before its call_indirect.
func testShim(extra ...byte) []byte {
	body := cat([]byte{0x00, 0x20, 0x00, 0x41, 0x00}, extra, []byte{0x11, 0x00, 0x00, 0x0b})
	return core(
		funcI32,
		section(3, vec(u32(0))),
		section(4, vec([]byte{0x70, 0x01, 0x01, 0x01})),
		section(7, vec(cat(name("0"), []byte{0x00}, u32(0)), cat(name("$imports"), []byte{0x01}, u32(0)))),
		section(10, vec(cat(u32(uint32(len(body))), body))),
	)
}

// testFixup writes its import ("a", "0") into slot 0 of the shim's table.
var testFixup = core(
	funcI32,
	section(2, vec(cat(name("a"), name("0"), []byte{0x00}, u32(0)), shimTable)),
	section(9, vec(cat(u32(0), []byte{0x41, 0x00, 0x0b}, vec(u32(0))))),
)

func TestRecognizeShim(t *testing.T) {
	sh, ok := recognizeShim(testShim())
	if !ok || sh.table != "$imports" || len(sh.slots) != 1 || sh.funcs["0"].slot != 0 {
		t.Fatalf("recognizeShim = %+v, %v", sh, ok)
	}
	// One more instruction (i32.const 0; drop) and it is not a shim.
	if _, ok := recognizeShim(testShim(0x41, 0x00, 0x1a)); ok {
		t.Fatal("a function that does more than forward was taken for a shim")
	}
	fx, ok := recognizeFixup(testFixup, sh, "shim")
	if !ok || len(fx) != 1 || fx[0].module != "a" || fx[0].name != "0" {
		t.Fatalf("recognizeFixup = %v, %v", fx, ok)
	}
	if _, ok := recognizeFixup(testFixup, sh, "other"); ok {
		t.Fatal("a fixup of another argument's table was recognized")
	}
}

// TestShimTrampoline follows one trampoline through a shim's life: before
// the fixup it is the shim's call (an empty slot traps), after it the
// built-in is called directly, and once a module that is not a fixup
// imports the table it goes through the shim again.
func TestShimTrampoline(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	st := &state{ctx: ctx, r: r, compiled: map[*CoreModule]wazero.CompiledModule{}}
	sh, shimInst := testShimInstance(t, st)
	var caller api.Module
	calls := 0
	builtin := hostFunc{params: []api.ValueType{api.ValueTypeI32}, fn: func(_ context.Context, m api.Module, stack []uint64) {
		caller = m
		calls++
		if stack[0] != 7 {
			t.Errorf("argument %d, want 7", stack[0])
		}
	}}
	item := st.addHost(builtin)
	if err := st.flush(); err != nil {
		t.Fatal(err)
	}
	tramp := sh.trampoline("0")
	call := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%v", p)
			}
		}()
		caller = nil
		tramp(ctx, nil, []uint64{7})
		return nil
	}

	if err := call(); err == nil || calls != 0 {
		t.Fatalf("before the fixup: %v, %d calls; want the shim's trap", err, calls)
	}

	insts := map[string]*coreInstance{"a": item.inst, "shim": shimInst}
	args := map[string]api.Module{"a": item.inst.mod, "shim": sh.mod}
	if _, err := st.instantiateCore(testFixup, nil, args); err != nil {
		t.Fatal(err)
	}
	sh.fill(testFixup, "shim", insts)
	if err := call(); err != nil || calls != 1 || caller != nil {
		t.Fatalf("after the fixup: %v, %d calls, called from %v; want a direct call", err, calls, caller)
	}

	escaper := core(section(2, vec(shimTable)))
	if _, err := st.instantiateCore(escaper, nil, args); err != nil {
		t.Fatal(err)
	}
	sh.fill(escaper, "shim", insts)
	if err := call(); err != nil || calls != 2 || caller == nil || !sh.escaped {
		t.Fatalf("after the table escaped: %v, %d calls, called from %v; want a call through the shim", err, calls, caller)
	}
	for _, m := range st.modules {
		m.Close(ctx)
	}
}

func testShimInstance(t *testing.T, st *state) (*shim, *coreInstance) {
	sh, ok := recognizeShim(testShim())
	if !ok {
		t.Fatal("not a shim")
	}
	var err error
	if sh.mod, err = st.instantiateCore(testShim(), nil, nil); err != nil {
		t.Fatal(err)
	}
	sh.depth = &st.shimDepth
	return sh, &coreInstance{mod: sh.mod, shim: sh}
}

// TestShimLoop is a hostile fixup that writes the shim function's own
// trampoline into its slot: a call traps once the calls through the shim
// nest too deep, instead of recursing without bound through Go.
func TestShimLoop(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	st := &state{ctx: ctx, r: r, compiled: map[*CoreModule]wazero.CompiledModule{}}
	sh, shimInst := testShimInstance(t, st)
	item := st.addHost(hostFunc{fn: sh.trampoline("0"), params: []api.ValueType{api.ValueTypeI32}, trampoline: true})
	if err := st.flush(); err != nil {
		t.Fatal(err)
	}
	args := map[string]api.Module{"a": item.inst.mod, "shim": sh.mod}
	if _, err := st.instantiateCore(testFixup, nil, args); err != nil {
		t.Fatal(err)
	}
	sh.fill(testFixup, "shim", map[string]*coreInstance{"a": item.inst, "shim": shimInst})
	if sh.slots[0] != nil {
		t.Fatal("a trampoline was recorded as a slot's built-in")
	}
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%v", p)
			}
		}()
		sh.trampoline("0")(ctx, nil, []uint64{7})
		return nil
	}()
	if err == nil || !strings.Contains(err.Error(), "nest more than") {
		t.Fatalf("a slot that leads back to its shim: %.300v", err)
	}
	if d := st.shimDepth.Load(); d != 0 {
		t.Fatalf("nesting left at %d", d)
	}
	for _, m := range st.modules {
		m.Close(ctx)
	}
}

// TestShimSeenThrough instantiates calc.c as a component (`jco embed` and
// `jco new`: wall-clock.now, lowered with the main module's memory, goes
// through wit-component's shim, and so does the destructor of the
// resource it exports) and counts the calls of the shim's own functions:
// none for now, which reaches the host directly, one per destructor run.
func TestShimSeenThrough(t *testing.T) {
	b := cguest.Build(t, cguest.Spec{
		Sources: []string{"../testdata/components/calc/calc.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry"},
		WIT:     "../testdata/components/calc/calc.wit", World: "calc",
	})
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	nows := 0
	l, err := link.NewLinker(link.Implementation{
		Interface: "wasi:clocks/wall-clock", Version: "0.2.0",
		Functions: func(string) []cabi.HostFunc {
			fn := func(_ context.Context, m api.Module, stack []uint64) {
				nows++
				m.(*cabi.Lowered).Options().Memory.WriteUint64Le(uint32(stack[0]), 1)
			}
			i32 := []api.ValueType{api.ValueTypeI32}
			return []cabi.HostFunc{{Name: "now", Fn: fn, Params: i32}, {Name: "resolution", Fn: fn, Params: i32}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	shimCalls := map[string]int{}
	ctx := experimental.WithFunctionListenerFactory(context.Background(), experimental.FunctionListenerFactoryFunc(
		func(def api.FunctionDefinition) experimental.FunctionListener {
			if def.GoFunction() != nil || !slices.Contains(def.ExportNames(), "0") && !slices.Contains(def.ExportNames(), "1") {
				return nil
			}
			return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
				shimCalls[strings.Join(def.ExportNames(), ",")]++
			})
		}))
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	inst, err := Instantiate(ctx, r, c, cabi.NewInstance(), l)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	call := func(path []string, args ...any) any {
		t.Helper()
		f, err := inst.Func(path...)
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Call(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := call([]string{"clock-loop"}, uint32(10)); v != uint64(10) || nows != 10 {
		t.Fatalf("clock-loop(10) = %v with %d host calls", v, nows)
	}
	h := call([]string{"example:calc/counters", "[constructor]counter"}, uint32(1)).(*Handle)
	if err := h.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"1": 1}; fmt.Sprint(shimCalls) != fmt.Sprint(want) {
		t.Fatalf("calls of the shim's functions: %v, want %v (the destructor only)", shimCalls, want)
	}
}
