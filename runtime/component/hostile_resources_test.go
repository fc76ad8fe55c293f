package component

import (
	"context"
	"strings"
	"testing"

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
// component that defines the type (all nested instances share one handle
// table here, so the check is what keeps one from forging handles of, or
// reading the representations of, another's).
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

// splitRealloc exports "f", func(s: string) -> u32, lifted from a core
// function of one instance with that instance's memory (one page) and
// the realloc of another (two pages), which returns ret.
func splitRealloc(ret int32) []byte {
	var x wasmbin.Module
	x.Memory(2, -1)
	x.Export("memory", wasmbin.ExportMemory, 0)
	x.Export("realloc", wasmbin.ExportFunc, x.Func(x.Type([]byte{wasmbin.I32, wasmbin.I32, wasmbin.I32, wasmbin.I32}, []byte{wasmbin.I32}), nil,
		wasmbin.I32Const(ret)))
	var y wasmbin.Module
	y.Memory(1, -1)
	y.Export("memory", wasmbin.ExportMemory, 0)
	// f returns the first byte of the string it was given.
	y.Export("f", wasmbin.ExportFunc, y.Func(y.Type([]byte{wasmbin.I32, wasmbin.I32}, []byte{wasmbin.I32}), nil,
		[]byte{0x20, 0x00, 0x2d, 0x00, 0x00}))
	return comp(
		section(secCoreModule, x.Bytes()),
		section(secCoreModule, y.Bytes()),
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
