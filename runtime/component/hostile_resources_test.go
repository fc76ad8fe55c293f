package component

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// resourceI32 is a resource type of i32 representation, without a
// destructor, or with the core function dtor when dtor is not negative.
func resourceI32(dtor int) []byte {
	if dtor < 0 {
		return []byte{0x3f, 0x7f, 0x00}
	}
	return cat([]byte{0x3f, 0x7f, 0x01}, u32(uint32(dtor)))
}

// TestHostileResourceOwner checks that a nested component cannot make or
// read the handles of a resource type its parent defines, whether it
// reaches the type by an outer alias or as an instantiation argument: the
// Component Model allows resource.new and resource.rep only in the
// component that defines the type (it keeps one from forging handles of,
// or reading the representations of, another's).
func TestHostileResourceOwner(t *testing.T) {
	byAlias := func(op byte) []byte {
		return comp(
			section(secAlias, vec(cat([]byte{0x03, 0x02}, u32(1), u32(0)))),
			section(secCanon, vec(cat([]byte{op}, u32(0)))),
		)
	}
	byImport := func(op byte) []byte {
		return comp(
			section(secImport, vec(cat([]byte{0x00}, name("r"), []byte{0x03, 0x01}))),
			section(secCanon, vec(cat([]byte{op}, u32(0)))),
		)
	}
	for _, tc := range []struct {
		name   string
		nested []byte
		args   []byte
	}{
		{"alias-new", byAlias(0x02), vec()},
		{"alias-rep", byAlias(0x04), vec()},
		{"import-new", byImport(0x02), vec(cat(name("r"), []byte{0x03}, u32(0)))},
		{"import-rep", byImport(0x04), vec(cat(name("r"), []byte{0x03}, u32(0)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := comp(
				section(secType, vec(resourceI32(-1))),
				section(secComponent, tc.nested),
				section(secInstance, vec(cat([]byte{0x00}, u32(0), tc.args))),
			)
			inst, err := instantiate(t, b, trapLinker{})
			if err == nil {
				inst.Close(context.Background())
				t.Fatal("a nested component made or read handles of its parent's resource type")
			}
			if !strings.Contains(err.Error(), "defined by another component") {
				t.Fatalf("err = %v, want one saying the resource is defined by another component", err)
			}
		})
	}
	// The other way round: the parent aliases a resource type a nested
	// component defines and exports.
	for _, op := range []byte{0x02, 0x04} {
		b := comp(
			section(secComponent, comp(
				section(secType, vec(resourceI32(-1))),
				section(secExport, vec(cat([]byte{0x00}, name("r"), []byte{0x03}, u32(0), []byte{0x00}))),
			)),
			section(secInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
			section(secAlias, vec(cat([]byte{0x03, 0x00}, u32(0), name("r")))),
			section(secCanon, vec(cat([]byte{op}, u32(0)))),
		)
		inst, err := instantiate(t, b, trapLinker{})
		if err == nil {
			inst.Close(context.Background())
			t.Fatalf("canon %#x of a nested component's resource type accepted", op)
		}
		if !strings.Contains(err.Error(), "defined by another component") {
			t.Fatalf("canon %#x of a nested component's resource type: %v, want it defined by another component", op, err)
		}
	}
	// resource.drop of a handle of the parent's type stays allowed: an
	// own<R> may be passed to a component that did not define R.
	b := comp(
		section(secType, vec(resourceI32(-1))),
		section(secComponent, byAlias(0x03)),
		section(secInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
	)
	inst, err := instantiate(t, b, trapLinker{})
	if err != nil {
		t.Fatalf("resource.drop of the parent's resource type: %v", err)
	}
	inst.Close(context.Background())
}

// twoResources is a component defining two resource types of the same
// shape, exporting "f", func() -> u32, whose core function makes a handle
// of the first with representation 42 and returns resource.rep of it as
// the type of index rep.
func twoResources(rep uint32) []byte {
	var m wasmbin.Module
	ii := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	newF := m.ImportFunc("x", "new", ii)
	repF := m.ImportFunc("x", "rep", ii)
	f := m.Func(m.Type(nil, []byte{wasmbin.I32}), nil,
		cat(wasmbin.I32Const(42), []byte{0x10}, u32(uint32(newF)), []byte{0x10}, u32(uint32(repF))))
	m.Export("f", wasmbin.ExportFunc, f)
	return comp(
		section(secType, vec(resourceI32(-1), resourceI32(-1))),
		section(secCanon, vec(cat([]byte{0x02}, u32(0)), cat([]byte{0x04}, u32(rep)))),
		section(secCoreModule, m.Bytes()),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("new"), []byte{0x00}, u32(0)), cat(name("rep"), []byte{0x00}, u32(1)))),
			cat([]byte{0x00}, u32(0), vec(cat(name("x"), []byte{0x12}, u32(0)))),
		)),
		section(secAlias, vec(cat([]byte{0x00, 0x00, 0x01}, u32(1), name("f")))),
		section(secType, vec([]byte{0x40, 0x00, 0x00, 0x79})),
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(2), vec(), u32(2)))),
		section(secExport, vec(cat([]byte{0x00}, name("f"), []byte{0x01}, u32(0), []byte{0x00}))),
	)
}

// TestHostileResourceRepOtherType checks that resource.rep of a handle
// of another resource type of the same shape traps: each resource type
// definition is its own type, whatever its representation.
func TestHostileResourceRepOtherType(t *testing.T) {
	ctx := context.Background()
	inst, f := exportF(t, twoResources(0))
	if v, err := f.Call(ctx); err != nil || v != uint32(42) {
		t.Fatalf("rep of its own type = %v, %v, want 42", v, err)
	}
	inst.Close(ctx)

	inst, f = exportF(t, twoResources(1))
	defer inst.Close(ctx)
	if v, err := f.Call(ctx); err == nil || !strings.Contains(err.Error(), "resource#1") {
		t.Fatalf("rep as the other type = %v, %v, want a trap naming resource#1", v, err)
	}
}

// startDrop is a component whose second core module's start function
// makes a handle of a resource whose destructor is dtor (a body of the
// first core module, taking the rep) and drops it: the destructor runs
// during instantiation.
func startDrop(dtor []byte) []byte {
	var a wasmbin.Module
	a.Export("dtor", wasmbin.ExportFunc, a.Func(a.Type([]byte{wasmbin.I32}, nil), nil, dtor))
	var b wasmbin.Module
	newF := b.ImportFunc("x", "new", b.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32}))
	dropF := b.ImportFunc("x", "drop", b.Type([]byte{wasmbin.I32}, nil))
	b.Start(b.Func(b.Type(nil, nil), nil,
		cat(wasmbin.I32Const(7), []byte{0x10}, u32(uint32(newF)), []byte{0x10}, u32(uint32(dropF)))))
	return comp(
		section(secCoreModule, a.Bytes()),
		section(secCoreModule, b.Bytes()),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
		section(secAlias, vec(cat([]byte{0x00, 0x00, 0x01}, u32(0), name("dtor")))), // core func 0
		section(secType, vec(resourceI32(0))),
		section(secCanon, vec(cat([]byte{0x02}, u32(0)), cat([]byte{0x03}, u32(0)))), // core funcs 1, 2
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("new"), []byte{0x00}, u32(1)), cat(name("drop"), []byte{0x00}, u32(2)))),
			cat([]byte{0x00}, u32(1), vec(cat(name("x"), []byte{0x12}, u32(1)))),
		)),
	)
}

// TestHostileStartReentry checks a core start function that calls back
// into the component while it is being instantiated: it makes and drops
// a resource, which runs a destructor of an instance already there. A
// destructor that traps is the instantiation's error, not a host panic.
func TestHostileStartReentry(t *testing.T) {
	ctx := context.Background()
	inst, err := instantiate(t, startDrop(nil), trapLinker{})
	if err != nil {
		t.Fatalf("a start function dropping a resource: %v", err)
	}
	inst.Close(ctx)

	inst, err = instantiate(t, startDrop([]byte{0x00}), trapLinker{})
	if err == nil {
		inst.Close(ctx)
		t.Fatal("a destructor trapping in a start function did not fail the instantiation")
	}
	if !strings.Contains(err.Error(), "destructor") {
		t.Fatalf("err = %v, want one naming the destructor", err)
	}
}

// reallocModule is a core module of a memory of two pages and a realloc
// that returns ret.
func reallocModule(ret int32) []byte {
	var m wasmbin.Module
	m.Memory(2, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export("realloc", wasmbin.ExportFunc, m.Func(m.Type([]byte{wasmbin.I32, wasmbin.I32, wasmbin.I32, wasmbin.I32}, []byte{wasmbin.I32}), nil,
		wasmbin.I32Const(ret)))
	return m.Bytes()
}

// peekModule is a core module of a memory of one page and a function
// name of params returning the byte at its first.
func peekModule(name string, params []byte) []byte {
	var m wasmbin.Module
	m.Memory(1, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export(name, wasmbin.ExportFunc, m.Func(m.Type(params, []byte{wasmbin.I32}), nil, []byte{0x20, 0x00, 0x2d, 0x00, 0x00}))
	return m.Bytes()
}

// splitRealloc exports "f", func(s: string) -> u32, lifted from a core
// function of one instance with that instance's memory (one page) and
// the realloc of another (two pages), which returns ret; f returns the
// first byte of the string it was given.
func splitRealloc(ret int32) []byte {
	return comp(
		section(secCoreModule, reallocModule(ret)),
		section(secCoreModule, peekModule("f", []byte{wasmbin.I32, wasmbin.I32})),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()), cat([]byte{0x00}, u32(1), vec()))),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("f")),
			cat([]byte{0x00, 0x00, 0x01}, u32(0), name("realloc")),
			cat([]byte{0x00, 0x02, 0x01}, u32(1), name("memory")),
		)),
		section(secType, vec(cat([]byte{0x40}, vec(cat(name("s"), []byte{0x73})), []byte{0x00, 0x79}))),
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(0), vec(cat([]byte{0x03}, u32(0)), cat([]byte{0x04}, u32(1))), u32(0)))),
		section(secExport, vec(cat([]byte{0x00}, name("f"), []byte{0x01}, u32(0), []byte{0x00}))),
	)
}

// TestHostileSplitRealloc checks a lift whose realloc belongs to another
// core instance than its memory: the host writes the argument into the
// memory option, where the lifted function reads it, at the pointer the
// realloc returns, checked against that memory, not the realloc's own (a
// pointer in the realloc's two pages but past the memory's one is an
// error, not a write elsewhere).
func TestHostileSplitRealloc(t *testing.T) {
	ctx := context.Background()
	inst, f := exportF(t, splitRealloc(16))
	if v, err := f.Call(ctx, "hello"); err != nil || v != uint32('h') {
		t.Fatalf("Call = %v, %v, want 'h' read from the memory option", v, err)
	}
	inst.Close(ctx)

	inst, f = exportF(t, splitRealloc(0x18000))
	defer inst.Close(ctx)
	if v, err := f.Call(ctx, "hello"); err == nil || !strings.Contains(err.Error(), "out-of-bounds") {
		t.Fatalf("Call = %v, %v, want an out-of-bounds error", v, err)
	}
}

// dropLinker serves test:x/y's [resource-drop]r as the generated glue
// does, with the resource type typ; every other import traps.
type dropLinker struct{ typ *cabi.ResourceType }

func (l dropLinker) Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error) {
	if module != "test:x/y" || name != "[resource-drop]r" {
		return trapLinker{}.Resolve(module, name, params, results)
	}
	fn := func(ctx context.Context, mod api.Module, stack []uint64) {
		c := cabi.Begin(ctx, mod, module+"#"+name)
		defer c.End()
		c.Drop(uint32(stack[0]), l.typ)
	}
	return cabi.HostFunc{Name: name, Fn: fn, Params: params, Results: results}, nil
}

// twoNested is a component importing test:x/y's resource r and
// instantiating two nested components with it: A exports "keep",
// func(h: own<r>), which keeps the handle; B exports "take", the same in
// B, and "drop", func(h: u32), which drops handle h with its own
// resource.drop of r.
func twoNested() []byte {
	importR := section(secImport, vec(cat([]byte{0x00}, name("r"), []byte{0x03, 0x01})))
	var ma wasmbin.Module
	ma.Export("k", wasmbin.ExportFunc, ma.Func(ma.Type([]byte{wasmbin.I32}, nil), nil, nil))
	a := comp(
		importR,
		section(secType, vec([]byte{0x69, 0x00}, cat([]byte{0x40}, vec(cat(name("h"), vidx(1))), []byte{0x01, 0x00}))),
		section(secCoreModule, ma.Bytes()),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
		section(secAlias, vec(cat([]byte{0x00, 0x00, 0x01}, u32(0), name("k")))),
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(0), vec(), u32(2)))),
		section(secExport, vec(cat([]byte{0x00}, name("keep"), []byte{0x01}, u32(0), []byte{0x00}))),
	)
	var mb wasmbin.Module
	drop := mb.ImportFunc("x", "drop", mb.Type([]byte{wasmbin.I32}, nil))
	mb.Export("d", wasmbin.ExportFunc, mb.Func(mb.Type([]byte{wasmbin.I32}, nil), nil, cat([]byte{0x20, 0x00, 0x10}, u32(uint32(drop)))))
	mb.Export("k", wasmbin.ExportFunc, mb.Func(mb.Type([]byte{wasmbin.I32}, nil), nil, nil))
	b := comp(
		importR, // type 0
		section(secCanon, vec(cat([]byte{0x03}, u32(0)))), // core func 0
		section(secCoreModule, mb.Bytes()),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("drop"), []byte{0x00}, u32(0)))),
			cat([]byte{0x00}, u32(0), vec(cat(name("x"), []byte{0x12}, u32(0)))),
		)),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("d")), // core func 1
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("k")), // core func 2
		)),
		section(secType, vec(
			cat([]byte{0x40}, vec(cat(name("h"), []byte{0x79})), []byte{0x01, 0x00}), // type 1
			[]byte{0x69, 0x00}, // type 2: own<r>
			cat([]byte{0x40}, vec(cat(name("h"), vidx(2))), []byte{0x01, 0x00}), // type 3
		)),
		section(secCanon, vec(
			cat([]byte{0x00, 0x00}, u32(1), vec(), u32(1)), // func 0
			cat([]byte{0x00, 0x00}, u32(2), vec(), u32(3)), // func 1
		)),
		section(secExport, vec(
			cat([]byte{0x00}, name("drop"), []byte{0x01}, u32(0), []byte{0x00}),
			cat([]byte{0x00}, name("take"), []byte{0x01}, u32(1), []byte{0x00}),
		)),
	)
	argR := vec(cat(name("r"), []byte{0x03}, u32(1)))
	return comp(
		section(secType, vec(cat([]byte{0x42}, vec(cat([]byte{0x04, 0x00}, name("r"), []byte{0x03, 0x01}))))),
		section(secImport, vec(cat([]byte{0x00}, name("test:x/y"), []byte{0x05}, u32(0)))),
		section(secAlias, vec(cat([]byte{0x03, 0x00}, u32(0), name("r")))), // type 1
		section(secComponent, a),
		section(secComponent, b),
		section(secInstance, vec(cat([]byte{0x00}, u32(0), argR), cat([]byte{0x00}, u32(1), argR))),
		section(secAlias, vec(
			cat([]byte{0x01, 0x00}, u32(1), name("keep")),
			cat([]byte{0x01, 0x00}, u32(2), name("drop")),
			cat([]byte{0x01, 0x00}, u32(2), name("take")),
		)),
		section(secExport, vec(
			cat([]byte{0x00}, name("keep"), []byte{0x01}, u32(0), []byte{0x00}),
			cat([]byte{0x00}, name("drop"), []byte{0x01}, u32(1), []byte{0x00}),
			cat([]byte{0x00}, name("take"), []byte{0x01}, u32(2), []byte{0x00}),
		)),
	)
}

// TestHostileNestedHandles checks that one nested component instance
// cannot reach a host resource another holds: each component instance
// has its own handle table, as the Component Model requires. A keeps
// handle 1; B's resource.drop of index 1, a handle B does not hold,
// traps naming the drop and the handle, and A's resource is untouched;
// where B holds a handle 1 of its own, B's drop of 1 drops B's resource,
// never A's. The handles of every table count against the one limit of
// the guest, and closing the instance drops each resource once.
func TestHostileNestedHandles(t *testing.T) {
	ctx := context.Background()
	typ := cabi.NewResourceType("test:x/y.r")
	setup := func(t *testing.T) (inst *Instance, keep, take, drop *Func) {
		inst, err := instantiate(t, twoNested(), dropLinker{typ})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { inst.Close(ctx) })
		fn := func(name string) *Func {
			f, err := inst.Func(name)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		return inst, fn("keep"), fn("take"), fn("drop")
	}

	t.Run("other's index", func(t *testing.T) {
		inst, keep, _, drop := setup(t)
		drops := 0
		if _, err := keep.Call(ctx, HostResource{Type: typ, Value: dropCounter{&drops}}); err != nil {
			t.Fatal(err)
		}
		if n, all := inst.ci.Table().Len(), inst.ci.Handles(); n != 0 || all != 1 {
			t.Fatalf("the outer table holds %d handles, all tables %d; want 0 and 1 (A's)", n, all)
		}
		_, err := drop.Call(ctx, uint32(1))
		if err == nil || !strings.Contains(err.Error(), "test:x/y#[resource-drop]r") || !strings.Contains(err.Error(), "unknown handle 1") {
			t.Fatalf("B's drop of A's handle 1 = %v, want a trap naming the drop and the unknown handle", err)
		}
		if drops != 0 || inst.ci.Handles() != 1 {
			t.Fatalf("after B's drop: A's resource dropped %d times, %d handles; want untouched and 1", drops, inst.ci.Handles())
		}
		if err := inst.ci.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if drops != 1 || inst.ci.Handles() != 0 {
			t.Fatalf("after Close: dropped %d times, %d handles; want once and 0", drops, inst.ci.Handles())
		}
	})

	t.Run("own index", func(t *testing.T) {
		inst, keep, take, drop := setup(t)
		dropsA, dropsB := 0, 0
		if _, err := keep.Call(ctx, HostResource{Type: typ, Value: dropCounter{&dropsA}}); err != nil {
			t.Fatal(err)
		}
		// B's first handle is 1 too, in B's table.
		if _, err := take.Call(ctx, HostResource{Type: typ, Value: dropCounter{&dropsB}}); err != nil {
			t.Fatal(err)
		}
		if _, err := drop.Call(ctx, uint32(1)); err != nil {
			t.Fatalf("B's drop of its own handle 1: %v", err)
		}
		if dropsA != 0 || dropsB != 1 || inst.ci.Handles() != 1 {
			t.Fatalf("after B's drop of 1: A's dropped %d, B's %d, %d handles; want 0, 1, 1", dropsA, dropsB, inst.ci.Handles())
		}
		if _, err := drop.Call(ctx, uint32(1)); err == nil || !strings.Contains(err.Error(), "double drop of handle 1") {
			t.Fatalf("B's second drop of 1 = %v, want a double drop trap", err)
		}
		if dropsA != 0 {
			t.Fatalf("A's resource dropped %d times by B", dropsA)
		}
		inst.ci.Close(ctx)
		if dropsA != 1 || dropsB != 1 {
			t.Fatalf("after Close: A's dropped %d, B's %d; want once each", dropsA, dropsB)
		}
	})

	t.Run("one limit", func(t *testing.T) {
		inst, keep, take, _ := setup(t)
		inst.ci.Table().SetLimit(1, "Limits.Handles")
		drops := 0
		if _, err := keep.Call(ctx, HostResource{Type: typ, Value: dropCounter{&drops}}); err != nil {
			t.Fatal(err)
		}
		refused := 0
		_, err := take.Call(ctx, HostResource{Type: typ, Value: dropCounter{&refused}})
		if err == nil || !strings.Contains(err.Error(), "resource table limit reached: the guest holds 1 handles (1 test:x/y.r)") || !strings.Contains(err.Error(), "Limits.Handles") {
			t.Fatalf("B's take past the limit = %v, want the limit's error", err)
		}
		if drops != 0 || refused != 0 || inst.ci.Handles() != 1 {
			t.Fatalf("after the refused take: %d and %d drops, %d handles; want 0, 0 and 1", drops, refused, inst.ci.Handles())
		}
		inst.ci.Close(ctx)
		if drops != 1 || refused != 0 {
			t.Fatalf("after Close: %d and %d drops, want 1 and 0 (the refused resource stays the caller's)", drops, refused)
		}
	})

	t.Run("moved twice", func(t *testing.T) {
		inst, keep, take, _ := setup(t)
		drops := 0
		hr := HostResource{Type: typ, Value: &dropPtr{&drops}}
		if _, err := keep.Call(ctx, hr); err != nil {
			t.Fatal(err)
		}
		if _, err := take.Call(ctx, hr); err == nil || !strings.Contains(err.Error(), "holds it already") {
			t.Fatalf("moving into B what A holds = %v, want it refused", err)
		}
		inst.ci.Close(ctx)
		if drops != 1 {
			t.Fatalf("after Close: %d drops, want 1", drops)
		}
	})
}

// dropPtr is dropCounter behind a pointer: one identity however often it
// is passed.
type dropPtr struct{ drops *int }

func (d *dropPtr) Drop() { *d.drops++ }

// getLinker serves test:x/y's get, func() -> string, returning "hi" as
// the generated glue does; every other import traps.
type getLinker struct{}

func (getLinker) Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error) {
	if module != "test:x/y" || name != "get" {
		return trapLinker{}.Resolve(module, name, params, results)
	}
	fn := func(ctx context.Context, mod api.Module, stack []uint64) {
		c := cabi.Begin(ctx, mod, module+"#"+name)
		defer c.End()
		c.PutString(uint32(stack[0]), "hi")
	}
	return cabi.HostFunc{Name: name, Fn: fn, Params: params, Results: results}, nil
}

// splitLower is a component lowering test:x/y's get into core module X,
// which has no memory, with the memory of core instance Y (one page) and
// the realloc of core instance R (two pages; it returns ret). It exports
// "call", X's function calling get with its return area at 8, and "peek",
// func(a: u32) -> u32, the byte at a in Y's memory.
func splitLower(ret int32) []byte {
	var x wasmbin.Module
	get := x.ImportFunc("y", "get", x.Type([]byte{wasmbin.I32}, nil))
	x.Export("call", wasmbin.ExportFunc, x.Func(x.Type(nil, []byte{wasmbin.I32}), nil,
		cat(wasmbin.I32Const(8), []byte{0x10}, u32(uint32(get)), wasmbin.I32Const(0))))
	getType := cat([]byte{0x42}, vec(
		[]byte{0x01, 0x40, 0x00, 0x00, 0x73},                       // type 0: func() -> string
		cat([]byte{0x04, 0x00}, name("get"), []byte{0x01}, u32(0)), // export get: func type 0
	))
	return comp(
		section(secType, vec(getType)),
		section(secImport, vec(cat([]byte{0x00}, name("test:x/y"), []byte{0x05}, u32(0)))),
		section(secAlias, vec(cat([]byte{0x01, 0x00}, u32(0), name("get")))), // func 0
		section(secCoreModule, reallocModule(ret)),
		section(secCoreModule, peekModule("peek", []byte{wasmbin.I32})),
		section(secCoreModule, x.Bytes()),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()), cat([]byte{0x00}, u32(1), vec()))),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(0), name("realloc")), // core func 0
			cat([]byte{0x00, 0x02, 0x01}, u32(1), name("memory")),  // memory 0
		)),
		section(secCanon, vec(cat([]byte{0x01, 0x00}, u32(0), vec(cat([]byte{0x03}, u32(0)), cat([]byte{0x04}, u32(0)))))), // core func 1
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("get"), []byte{0x00}, u32(1)))),
			cat([]byte{0x00}, u32(2), vec(cat(name("y"), []byte{0x12}, u32(2)))),
		)),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(3), name("call")), // core func 2
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("peek")), // core func 3
		)),
		section(secType, vec([]byte{0x40, 0x00, 0x00, 0x79}, cat([]byte{0x40}, vec(cat(name("a"), []byte{0x79})), []byte{0x00, 0x79}))),
		section(secCanon, vec(
			cat([]byte{0x00, 0x00}, u32(2), vec(), u32(1)), // func 1
			cat([]byte{0x00, 0x00}, u32(3), vec(), u32(2)), // func 2
		)),
		section(secExport, vec(
			cat([]byte{0x00}, name("call"), []byte{0x01}, u32(1), []byte{0x00}),
			cat([]byte{0x00}, name("peek"), []byte{0x01}, u32(2), []byte{0x00}),
		)),
	)
}

// TestHostileSplitLower checks a host function lowered with the memory
// of another core instance than the caller's and the realloc of a third:
// the host writes its string result and the return area into the memory
// option, at the realloc's pointer checked against that memory (a pointer
// valid only in the realloc's own, larger memory traps).
func TestHostileSplitLower(t *testing.T) {
	ctx := context.Background()
	call := func(inst *Instance, name string, args ...any) (any, error) {
		f, err := inst.Func(name)
		if err != nil {
			t.Fatal(err)
		}
		return f.Call(ctx, args...)
	}
	inst, err := instantiate(t, splitLower(16), getLinker{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := call(inst, "call"); err != nil {
		t.Fatal(err)
	}
	for a, want := range map[uint32]uint32{8: 16, 12: 2, 16: 'h', 17: 'i'} {
		if v, err := call(inst, "peek", a); err != nil || v != want {
			t.Fatalf("byte %d of the memory option = %v, %v, want %d", a, v, err, want)
		}
	}
	inst.Close(ctx)

	inst, err = instantiate(t, splitLower(0x18000), getLinker{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	if v, err := call(inst, "call"); err == nil || !strings.Contains(err.Error(), "bad pointer 0x18000") {
		t.Fatalf("call = %v, %v, want a trap naming the bad pointer", v, err)
	}
}

// dtorBuiltin is a component whose resource#1's destructor is the
// resource.drop of resource#0, a canonical built-in not yet instantiated
// when the type is defined. It exports "f", func(again: u32) -> u32: a
// handle of resource#0 (rep 5) becomes the rep of a handle of resource#1,
// which is dropped (its destructor drops the first); then, if again is
// set, the first is dropped once more.
func dtorBuiltin() []byte {
	var m wasmbin.Module
	ii := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	i := m.Type([]byte{wasmbin.I32}, nil)
	new0 := m.ImportFunc("x", "new0", ii)
	new1 := m.ImportFunc("x", "new1", ii)
	drop0 := m.ImportFunc("x", "drop0", i)
	drop1 := m.ImportFunc("x", "drop1", i)
	call := func(f int) []byte { return cat([]byte{0x10}, u32(uint32(f))) }
	m.Export("f", wasmbin.ExportFunc, m.Func(ii, []byte{0x01, 0x01, 0x7f}, cat(
		wasmbin.I32Const(5), call(new0), []byte{0x21, 0x01}, // local 1 = new0(5)
		[]byte{0x20, 0x01}, call(new1), call(drop1), // drop1(new1(local 1))
		[]byte{0x20, 0x00, 0x04, 0x40, 0x20, 0x01}, call(drop0), []byte{0x0b}, // if again: drop0(local 1)
		wasmbin.I32Const(0),
	)))
	exp := func(n string, f uint32) []byte { return cat(name(n), []byte{0x00}, u32(f)) }
	return comp(
		section(secType, vec(resourceI32(-1))),
		section(secCanon, vec(cat([]byte{0x03}, u32(0)))), // core func 0: drop0
		section(secType, vec(resourceI32(0))),
		section(secCanon, vec(cat([]byte{0x02}, u32(0)), cat([]byte{0x02}, u32(1)), cat([]byte{0x03}, u32(1)))), // core funcs 1-3
		section(secCoreModule, m.Bytes()),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(exp("new0", 1), exp("new1", 2), exp("drop0", 0), exp("drop1", 3))),
			cat([]byte{0x00}, u32(0), vec(cat(name("x"), []byte{0x12}, u32(0)))),
		)),
		section(secAlias, vec(cat([]byte{0x00, 0x00, 0x01}, u32(1), name("f")))), // core func 4
		section(secType, vec(cat([]byte{0x40}, vec(cat(name("again"), []byte{0x79})), []byte{0x00, 0x79}))),
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(4), vec(), u32(2)))),
		section(secExport, vec(cat([]byte{0x00}, name("f"), []byte{0x01}, u32(0), []byte{0x00}))),
	)
}

// TestHostileDtorBuiltin checks a destructor that is a canonical
// built-in not yet instantiated when its resource type is defined (the
// resource.drop of another resource): it is bound in order, runs nested
// in the drop that called it, leaves no handle behind, and a second drop
// of what it dropped traps.
func TestHostileDtorBuiltin(t *testing.T) {
	ctx := context.Background()
	inst, f := exportF(t, dtorBuiltin())
	if v, err := f.Call(ctx, uint32(0)); err != nil || v != uint32(0) {
		t.Fatalf("Call = %v, %v", v, err)
	}
	if n := inst.ci.Table().Len(); n != 0 {
		t.Fatalf("%d handles left in the table, want none", n)
	}
	if v, err := f.Call(ctx, uint32(1)); err == nil || !strings.Contains(err.Error(), "[resource-drop]resource#0") {
		t.Fatalf("a second drop = %v, %v, want a trap naming resource#0's drop", v, err)
	}
	inst.Close(ctx)
}

// borrowNested is a component defining a resource r (i32 representation,
// no destructor) and exporting "make", func() -> own<r>, whose core
// function makes one of representation 42; "peek-own", func(h: borrow<r>)
// -> u32, which returns the core value it got for h; and "peek", the same
// lifted in a nested component B given r as an instantiation argument,
// which also drops its borrow (B's resource.drop) before it returns. It
// also exports peek as the interface test:x/b, and peek-own as test:x/a.
func borrowNested() []byte {
	var m wasmbin.Module
	newF := m.ImportFunc("x", "new", m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32}))
	m.Export("mk", wasmbin.ExportFunc, m.Func(m.Type(nil, []byte{wasmbin.I32}), nil, cat(wasmbin.I32Const(42), []byte{0x10}, u32(uint32(newF)))))
	m.Export("id", wasmbin.ExportFunc, m.Func(m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32}), nil, []byte{0x20, 0x00}))
	var mb wasmbin.Module
	drop := mb.ImportFunc("x", "drop", mb.Type([]byte{wasmbin.I32}, nil))
	mb.Export("p", wasmbin.ExportFunc, mb.Func(mb.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32}), nil,
		cat([]byte{0x20, 0x00, 0x10}, u32(uint32(drop)), []byte{0x20, 0x00})))
	b := comp(
		section(secImport, vec(cat([]byte{0x00}, name("r"), []byte{0x03, 0x01}))), // type 0
		section(secCanon, vec(cat([]byte{0x03}, u32(0)))),                         // core func 0
		section(secCoreModule, mb.Bytes()),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("drop"), []byte{0x00}, u32(0)))),
			cat([]byte{0x00}, u32(0), vec(cat(name("x"), []byte{0x12}, u32(0)))),
		)),
		section(secAlias, vec(cat([]byte{0x00, 0x00, 0x01}, u32(1), name("p")))), // core func 1
		section(secType, vec(
			[]byte{0x68, 0x00}, // type 1: borrow<r>
			cat([]byte{0x40}, vec(cat(name("h"), vidx(1))), []byte{0x00, 0x79}), // type 2
		)),
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(1), vec(), u32(2)))),
		section(secExport, vec(cat([]byte{0x00}, name("peek"), []byte{0x01}, u32(0), []byte{0x00}))),
	)
	return comp(
		section(secType, vec(
			resourceI32(-1),    // type 0: r
			[]byte{0x69, 0x00}, // type 1: own<r>
			cat([]byte{0x40}, vec(), []byte{0x00}, vidx(1)), // type 2: func() -> own<r>
			[]byte{0x68, 0x00}, // type 3: borrow<r>
			cat([]byte{0x40}, vec(cat(name("h"), vidx(3))), []byte{0x00, 0x79}), // type 4
		)),
		section(secCanon, vec(cat([]byte{0x02}, u32(0)))), // core func 0: resource.new
		section(secCoreModule, m.Bytes()),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("new"), []byte{0x00}, u32(0)))),
			cat([]byte{0x00}, u32(0), vec(cat(name("x"), []byte{0x12}, u32(0)))),
		)),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("mk")), // core func 1
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("id")), // core func 2
		)),
		section(secCanon, vec(
			cat([]byte{0x00, 0x00}, u32(1), vec(), u32(2)), // func 0: make
			cat([]byte{0x00, 0x00}, u32(2), vec(), u32(4)), // func 1: peek-own
		)),
		section(secComponent, b),
		section(secInstance, vec(cat([]byte{0x00}, u32(0), vec(cat(name("r"), []byte{0x03}, u32(0)))))),
		section(secAlias, vec(cat([]byte{0x01, 0x00}, u32(0), name("peek")))), // func 2
		section(secInstance, vec(
			cat([]byte{0x01}, vec(cat([]byte{0x00}, name("peek"), []byte{0x01}, u32(2)))),     // instance 1
			cat([]byte{0x01}, vec(cat([]byte{0x00}, name("peek-own"), []byte{0x01}, u32(1)))), // instance 2
		)),
		section(secExport, vec(
			cat([]byte{0x00}, name("make"), []byte{0x01}, u32(0), []byte{0x00}),
			cat([]byte{0x00}, name("peek-own"), []byte{0x01}, u32(1), []byte{0x00}),
			cat([]byte{0x00}, name("peek"), []byte{0x01}, u32(2), []byte{0x00}),
			cat([]byte{0x00}, name("test:x/b"), []byte{0x05}, u32(1), []byte{0x00}),
			cat([]byte{0x00}, name("test:x/a"), []byte{0x05}, u32(2), []byte{0x00}),
		)),
	)
}

// TestNestedBorrow checks how a borrow<R> of a resource a component
// defines is lowered by the Canonical ABI: to the component instance
// that defines R as its representation, to another (a nested instance R
// was given to) as a borrowed handle in that instance's own table, which
// it drops before it returns; the resource stays the caller's.
func TestNestedBorrow(t *testing.T) {
	ctx := context.Background()
	inst, err := instantiate(t, borrowNested(), trapLinker{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	call := func(name string, args ...any) any {
		t.Helper()
		f, err := inst.Func(name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Call(ctx, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	h, ok := call("make").(*Handle)
	if !ok || h.Rep() != 42 {
		t.Fatalf("make = %v, want a handle of rep 42", h)
	}
	if v := call("peek-own", h); v != uint32(42) {
		t.Fatalf("the defining instance got %v for a borrow, want its rep 42", v)
	}
	if v := call("peek", h); v != uint32(1) {
		t.Fatalf("the nested instance got %v for a borrow, want handle 1 of its own table", v)
	}
	if n := inst.ci.Handles(); n != 0 {
		t.Fatalf("%d handles left after the calls, want 0", n)
	}
	if err := h.Drop(ctx); err != nil || inst.ci.Trapped() {
		t.Fatalf("Drop after the borrows = %v, trapped %v", err, inst.ci.Trapped())
	}
	// The generated callers lend a borrow as the representation: they
	// are refused for B's export, not for the defining instance's.
	var ns *NotSupportedError
	if _, err := inst.Guest("test:x/b"); !errors.As(err, &ns) || !strings.Contains(err.Error(), "test:x/b#peek") {
		t.Errorf("Guest(test:x/b) = %v, want it not supported, naming peek", err)
	}
	if _, err := inst.Guest("test:x/a"); err != nil {
		t.Errorf("Guest(test:x/a): %v", err)
	}
}
