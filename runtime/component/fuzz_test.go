package component

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// FuzzParse checks that Parse never panics and that what it accepts
// survives a second look (the definitions can be described).
func FuzzParse(f *testing.F) {
	f.Add(exitComponent("0.2.12", "exit"))
	f.Add(exitComponent("0.2.0", "exit-with-code"))
	f.Add(comp(section(secCanon, vec([]byte{0x02, 0x00}, []byte{0x03, 0x00}, []byte{0x04, 0x00}))))
	f.Add(comp(section(secType, vec([]byte{0x3f, 0x7f, 0x01, 0x00}, []byte{0x72, 0x01, 0x01, 'a', 0x79}))))
	f.Add(comp(section(secComponent, comp(section(secExport, vec(cat([]byte{0x00}, name("x"), []byte{0x01, 0x00, 0x00})))))))
	f.Add(comp(section(secCoreModule, []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00})))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		for _, d := range c.Defs {
			_ = describe(d)
		}
	})
}

// FuzzInstantiate checks that instantiating whatever Parse accepts is an
// error or an instance, never a panic, and that the instance closed, or
// the failed instantiation, leaves no compiled module behind. Imports
// bind to host functions that trap.
func FuzzInstantiate(f *testing.F) {
	f.Add(exitComponent("0.2.12", "exit"))
	f.Add(comp(section(secCoreModule, []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}),
		section(secCoreInstance, vec([]byte{0x00, 0x00, 0x00}, []byte{0x01, 0x00})),
		section(secAlias, vec([]byte{0x00, 0x11, 0x01, 0x00, 0x01, 'm'}))))
	f.Add(comp(section(secType, vec([]byte{0x3f, 0x7f, 0x00})), section(secCanon, vec([]byte{0x02, 0x00}, []byte{0x03, 0x00}, []byte{0x04, 0x00}))))
	f.Add(comp(section(secComponent, comp(section(secExport, vec(cat([]byte{0x00}, name("x"), []byte{0x03, 0x00, 0x00})))))))
	// A shim and its fixup, the fixup given the shim function back
	// through a core instance of exports.
	f.Add(comp(section(secCoreModule, testShim()), section(secCoreModule, testFixup),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
		section(secAlias, vec(cat([]byte{0x00, 0x00, 0x01}, u32(0), name("0")))),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("0"), []byte{0x00}, u32(0)))),
			cat([]byte{0x00}, u32(1), vec(cat(name("a"), []byte{0x12}, u32(1)), cat(name("shim"), []byte{0x12}, u32(0)))),
		))))
	bg := context.Background()
	// A core module's start function may loop: each input gets a second.
	r := wazero.NewRuntimeWithConfig(bg, wazero.NewRuntimeConfig().WithCloseOnContextDone(true).WithMemoryLimitPages(64))
	f.Cleanup(func() { r.Close(bg) })
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		live := 0
		inst, err := Instantiate(ctx, countingRuntime{r, &live}, c, cabi.NewInstance(), trapLinker{})
		if err == nil {
			inst.Close(ctx)
		}
		if live != 0 {
			t.Fatalf("%d compiled modules left open (instantiation error %v)", live, err)
		}
	})
}

// trapLinker serves every import with a host function that traps.
type trapLinker struct{}

func (trapLinker) Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error) {
	fn := func(ctx context.Context, mod api.Module, stack []uint64) {
		cabi.Trapf(module+"#"+name, "not served in the fuzz test")
	}
	return cabi.HostFunc{Name: name, Fn: fn, Params: params, Results: results}, nil
}

// FuzzCoreShape checks that reading a core module's shape, and
// recognizing a shim or a fixup in it, is an answer, never a panic.
func FuzzCoreShape(f *testing.F) {
	f.Add(testShim())
	f.Add(testFixup)
	f.Add(testShim(0x41, 0x00, 0x1a))
	sh, _ := recognizeShim(testShim())
	f.Fuzz(func(t *testing.T, b []byte) {
		readCoreShape(b)
		if s, ok := recognizeShim(b); ok && len(s.slots) == 0 {
			t.Fatal("a shim with no slots")
		}
		recognizeFixup(b, sh, "shim")
		importsTable(b, "shim", "$imports")
	})
}

// FuzzCall checks that calling the exports of whatever instantiates, with
// an argument of each parameter's type, lowers and lifts without a panic
// (an error or a result, within the call's context), and that every host
// resource passed as own<R> or borrow<R> is dropped at most once, by the
// component or at Close. Imports bind to host functions that trap, and
// the component's resource.drop of an imported resource drops it.
func FuzzCall(f *testing.F) {
	flags3 := []byte{0x6e, 0x03, 0x01, 'a', 0x01, 'b', 0x01, 'c'}
	f.Add(liftedComponent([][]byte{flags3}, false, wasmbinI32(3), false))
	f.Add(liftedComponent([][]byte{{0x73}}, false, cat(i32Store(8, 0), i32Store(12, 4), wasmbinI32(8)), true))
	f.Add(liftedComponent([][]byte{{0x70, 0x77}}, false, cat(i32Store(8, 0), i32Store(12, 3), wasmbinI32(8)), false))
	f.Add(liftedComponent([][]byte{{0x69, 0x01}}, true, []byte{0x20, 0x00}, false))
	f.Add(reallocComponent(wasmbinI32(16)))
	f.Add(splitRealloc(16))
	f.Add(reallocDrops(16))
	f.Add(ownAndBorrow())
	f.Add(doublingInstances(3, 2))
	bg := context.Background()
	r := wazero.NewRuntimeWithConfig(bg, wazero.NewRuntimeConfig().WithCloseOnContextDone(true).WithMemoryLimitPages(64))
	f.Cleanup(func() { r.Close(bg) })
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		inst, err := Instantiate(ctx, r, c, cabi.NewInstance(), fuzzDropLinker{})
		if err != nil {
			return
		}
		var drops []*fuzzRes
		for _, name := range inst.Exports() {
			fn, err := inst.Func(name)
			if err != nil {
				continue
			}
			args, ok := fuzzArgs(fn.f.typ, &drops)
			if !ok {
				continue
			}
			fn.Call(ctx, args...)
		}
		inst.Close(ctx)
		for _, d := range drops {
			if d.drops > 1 {
				t.Fatalf("a host resource was dropped %d times", d.drops)
			}
		}
	})
}

func wasmbinI32(v int32) []byte { return wasmbin.I32Const(v) }

// fuzzRes is a host resource that counts its drops.
type fuzzRes struct{ drops int }

func (r *fuzzRes) Drop() { r.drops++ }

// fuzzDropLinker serves [resource-drop]R of any interface as the
// generated glue does, with the type the generated bindings would give
// it; every other import traps.
type fuzzDropLinker struct{}

func (fuzzDropLinker) Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error) {
	res, ok := strings.CutPrefix(name, "[resource-drop]")
	if !ok {
		return trapLinker{}.Resolve(module, name, params, results)
	}
	iface, _, _ := strings.Cut(module, "@")
	typ := fuzzType(iface + "." + res)
	fn := func(ctx context.Context, mod api.Module, stack []uint64) {
		c := cabi.Begin(ctx, mod, module+"#"+name)
		defer c.End()
		c.Drop(uint32(stack[0]), typ)
	}
	return cabi.HostFunc{Name: name, Fn: fn, Params: params, Results: results}, nil
}

// fuzzTypes are the host's resource types by name, one each, as the
// generated bindings have.
var (
	fuzzTypesMu sync.Mutex
	fuzzTypes   = map[string]*cabi.ResourceType{}
)

func fuzzType(name string) *cabi.ResourceType {
	fuzzTypesMu.Lock()
	defer fuzzTypesMu.Unlock()
	t, ok := fuzzTypes[name]
	if !ok {
		t = cabi.NewResourceType(name)
		fuzzTypes[name] = t
	}
	return t
}

// fuzzArgs returns an argument for each parameter of ft, or false when
// one needs a resource the component defines (a *Handle only a call
// returns).
func fuzzArgs(ft *rfunc, drops *[]*fuzzRes) ([]any, bool) {
	var args []any
	for _, p := range ft.params {
		v, ok := fuzzValue(p.t, drops)
		if !ok {
			return nil, false
		}
		args = append(args, v)
	}
	return args, true
}

func fuzzValue(t rtype, drops *[]*fuzzRes) (any, bool) {
	switch t := t.(type) {
	case rprim:
		switch Prim(t) {
		case Bool:
			return true, true
		case F32:
			return float32(1.5), true
		case F64:
			return 2.5, true
		case Char:
			return uint32('x'), true
		case String:
			return "hi", true
		}
		return uint64(1), true
	case *rlist:
		if t.elem == rprim(U8) {
			return []byte{1, 2, 3}, true
		}
		e, ok := fuzzValue(t.elem, drops)
		return []any{e, e}, ok
	case *rrecord, *rtuple:
		var vs []any
		for _, ft := range fieldTypes(t) {
			v, ok := fuzzValue(ft, drops)
			if !ok {
				return nil, false
			}
			vs = append(vs, v)
		}
		return vs, true
	case *rflags:
		return uint32(1), true
	case *renum:
		return Variant{Case: uint32(t.n - 1)}, true
	case *rvariant, *roption, *rresult:
		cases := variantCases(t)
		c := len(cases) - 1
		if cases[c] == nil {
			return Variant{Case: uint32(c)}, true
		}
		v, ok := fuzzValue(cases[c], drops)
		return Variant{Case: uint32(c), Value: v}, ok
	case *rown, *rborrow:
		res := handleResource(t)
		if res.defined {
			return nil, false
		}
		r := &fuzzRes{}
		*drops = append(*drops, r)
		return HostResource{Type: fuzzType(res.hostName()), Value: r}, true
	}
	return nil, false
}

func handleResource(t rtype) *rresource {
	if o, ok := t.(*rown); ok {
		return o.res
	}
	return t.(*rborrow).res
}
