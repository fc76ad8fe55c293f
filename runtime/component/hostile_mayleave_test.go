package component

import (
	"context"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// reallocDrops is a component importing test:x/y's resource r and
// exporting "f", func(h: own<r>, s: string) -> u32, lifted with a realloc
// that calls the component's resource.drop of r on handle 1 (the handle
// the host has just moved h to) and returns ret.
func reallocDrops(ret int32) []byte {
	var m wasmbin.Module
	drop := m.ImportFunc("x", "drop", m.Type([]byte{wasmbin.I32}, nil))
	m.Memory(1, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export("f", wasmbin.ExportFunc, m.Func(m.Type([]byte{wasmbin.I32, wasmbin.I32, wasmbin.I32}, []byte{wasmbin.I32}), nil,
		wasmbin.I32Const(0)))
	m.Export("realloc", wasmbin.ExportFunc, m.Func(m.Type([]byte{wasmbin.I32, wasmbin.I32, wasmbin.I32, wasmbin.I32}, []byte{wasmbin.I32}), nil,
		cat(wasmbin.I32Const(1), []byte{0x10}, u32(uint32(drop)), wasmbin.I32Const(ret))))
	it := cat([]byte{0x42}, vec(cat([]byte{0x04, 0x00}, name("r"), []byte{0x03, 0x01})))
	return comp(
		section(secType, vec(it)),
		section(secImport, vec(cat([]byte{0x00}, name("test:x/y"), []byte{0x05}, u32(0)))),
		section(secAlias, vec(cat([]byte{0x03, 0x00}, u32(0), name("r")))), // type 1
		section(secType, vec([]byte{0x69, 0x01})),                          // type 2: own<r>
		section(secCanon, vec(cat([]byte{0x03}, u32(1)))),                  // core func 0: resource.drop r
		section(secCoreModule, m.Bytes()),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("drop"), []byte{0x00}, u32(0)))),      // core instance 0
			cat([]byte{0x00}, u32(0), vec(cat(name("x"), []byte{0x12}, u32(0)))), // core instance 1
		)),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("f")),       // core func 1
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("realloc")), // core func 2
			cat([]byte{0x00, 0x02, 0x01}, u32(1), name("memory")),  // memory 0
		)),
		section(secType, vec(cat([]byte{0x40}, vec(cat(name("h"), vidx(2)), cat(name("s"), []byte{0x73})), []byte{0x00, 0x79}))), // type 3
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(1), vec(cat([]byte{0x03}, u32(0)), cat([]byte{0x04}, u32(2))), u32(3)))),
		section(secExport, vec(cat([]byte{0x00}, name("f"), []byte{0x01}, u32(0), []byte{0x00}))),
	)
}

// TestHostileReallocLeaves checks the Canonical ABI's may-leave rule for
// the realloc that lowers a Go caller's arguments (Func.Call): a host
// function it calls (here the resource.drop of the own<r> argument the
// host has just moved into the component's table) traps, the call fails
// naming it, and the instance is poisoned. Before, the realloc could drop
// the resource and then return a bad pointer: the call failed before the
// component ran, so the resource went back to its caller, as documented,
// who then dropped it a second time.
func TestHostileReallocLeaves(t *testing.T) {
	ctx := context.Background()
	typ := cabi.NewResourceType("test:x/y.r")
	for _, tc := range []struct {
		name string
		ret  int32
	}{
		{"bad-pointer-after", 0xfffe},
		{"good-pointer-after", 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := instantiate(t, reallocDrops(tc.ret), dropLinker{typ})
			if err != nil {
				t.Fatal(err)
			}
			f, err := inst.Func("f")
			if err != nil {
				t.Fatal(err)
			}
			drops := 0
			hr := HostResource{Type: typ, Value: &dropPtr{&drops}}
			v, err := f.Call(ctx, hr, "hello")
			if drops != 0 {
				t.Fatalf("Call = %v, %v; the realloc dropped the argument %d times, want it back with its caller", v, err, drops)
			}
			if err == nil || !strings.Contains(err.Error(), "called from cabi_realloc") {
				t.Fatalf("Call = %v, %v, want an error saying the realloc called the host", v, err)
			}
			if _, err := f.Call(ctx, hr, "hello"); err == nil || !strings.Contains(err.Error(), "trapped before") {
				t.Fatalf("a second call = %v, want the faulted instance's refusal", err)
			}
			if n := inst.ci.Table().Len(); n != 0 {
				t.Fatalf("%d handles left in the table", n)
			}
			inst.Close(ctx)
			if drops != 0 {
				t.Fatalf("Close dropped the caller's resource %d times", drops)
			}
		})
	}
}

// ownAndBorrow is a component importing test:x/y's resource r, exporting
// ob, func(h: own<r>, b: borrow<r>) -> u32, and bo, the same with its
// parameters the other way round, which both drop h and then b (h while
// b is lent); keep, func(h: own<r>) -> u32, which keeps h; and peek,
// func(b: borrow<r>) -> u32, which drops b.
func ownAndBorrow() []byte {
	var m wasmbin.Module
	drop := m.ImportFunc("x", "drop", m.Type([]byte{wasmbin.I32}, nil))
	call := func(local byte) []byte { return []byte{0x20, local, 0x10, byte(drop)} }
	two := m.Type([]byte{wasmbin.I32, wasmbin.I32}, []byte{wasmbin.I32})
	one := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	m.Export("ob", wasmbin.ExportFunc, m.Func(two, nil, cat(call(0), call(1), wasmbin.I32Const(0))))
	m.Export("bo", wasmbin.ExportFunc, m.Func(two, nil, cat(call(1), call(0), wasmbin.I32Const(0))))
	m.Export("keep", wasmbin.ExportFunc, m.Func(one, nil, wasmbin.I32Const(0)))
	m.Export("peek", wasmbin.ExportFunc, m.Func(one, nil, cat(call(0), wasmbin.I32Const(0))))
	it := cat([]byte{0x42}, vec(cat([]byte{0x04, 0x00}, name("r"), []byte{0x03, 0x01})))
	own, borrow := func(n string) []byte { return cat(name(n), vidx(2)) }, func(n string) []byte { return cat(name(n), vidx(3)) }
	fn := func(params ...[]byte) []byte { return cat([]byte{0x40}, vec(params...), []byte{0x00, 0x79}) }
	lift := func(core, typ uint32) []byte { return cat([]byte{0x00, 0x00}, u32(core), vec(), u32(typ)) }
	export := func(n string, f uint32) []byte { return cat([]byte{0x00}, name(n), []byte{0x01}, u32(f), []byte{0x00}) }
	return comp(
		section(secType, vec(it)),
		section(secImport, vec(cat([]byte{0x00}, name("test:x/y"), []byte{0x05}, u32(0)))),
		section(secAlias, vec(cat([]byte{0x03, 0x00}, u32(0), name("r")))), // type 1
		section(secType, vec([]byte{0x69, 0x01}, []byte{0x68, 0x01})),      // types 2, 3: own<r>, borrow<r>
		section(secCanon, vec(cat([]byte{0x03}, u32(1)))),                  // core func 0: resource.drop r
		section(secCoreModule, m.Bytes()),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("drop"), []byte{0x00}, u32(0)))),
			cat([]byte{0x00}, u32(0), vec(cat(name("x"), []byte{0x12}, u32(0)))),
		)),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("ob")),   // core func 1
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("bo")),   // core func 2
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("keep")), // core func 3
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("peek")), // core func 4
		)),
		section(secType, vec(fn(own("h"), borrow("b")), fn(borrow("b"), own("h")), fn(own("h")), fn(borrow("b")))), // types 4-7
		section(secCanon, vec(lift(1, 4), lift(2, 5), lift(3, 6), lift(4, 7))),
		section(secExport, vec(export("ob", 0), export("bo", 1), export("keep", 2), export("peek", 3))),
	)
}

// TestOwnAndBorrowOfOne checks that Func.Call refuses to give a component
// a host resource as its own and lend it the same in one call, either
// order, or lend it one the component holds already: the component
// could drop it while it is lent, and the borrow it still uses would
// name a dropped resource. The refusal leaves the resource to the
// caller and the instance usable. Before, the component dropped the
// resource the call lent it.
func TestOwnAndBorrowOfOne(t *testing.T) {
	ctx := context.Background()
	typ := cabi.NewResourceType("test:x/y.r")
	inst, err := instantiate(t, ownAndBorrow(), dropLinker{typ})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	fn := func(name string) *Func {
		f, err := inst.Func(name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	drops := 0
	hr := HostResource{Type: typ, Value: &dropPtr{&drops}}
	for _, name := range []string{"ob", "bo"} {
		if v, err := fn(name).Call(ctx, hr, hr); err == nil || drops != 0 {
			t.Fatalf("%s of one resource as own and borrow = %v, %v, and %d drops; want it refused, not dropped", name, v, err, drops)
		} else {
			t.Logf("%s: %v", name, err)
		}
		if n := inst.ci.Handles(); n != 0 {
			t.Fatalf("%s refused: %d handles left", name, n)
		}
	}
	if _, err := fn("keep").Call(ctx, hr); err != nil {
		t.Fatal(err)
	}
	if v, err := fn("peek").Call(ctx, hr); err == nil || !strings.Contains(err.Error(), "holds it") {
		t.Fatalf("lending what the component holds = %v, %v, want it refused", v, err)
	}
	// Distinct resources pass, and the instance was not poisoned.
	other := 0
	if _, err := fn("ob").Call(ctx, HostResource{Type: typ, Value: &dropPtr{&other}}, hr); err == nil {
		t.Fatal("lending the kept resource as the second argument was not refused")
	}
	second := HostResource{Type: typ, Value: &dropPtr{&other}}
	if _, err := fn("peek").Call(ctx, second); err != nil || other != 0 {
		t.Fatalf("peek of another resource = %v (%d drops), want it lent and back", err, other)
	}
	if _, err := fn("ob").Call(ctx, second, HostResource{Type: typ, Value: &dropPtr{new(int)}}); err != nil || other != 1 {
		t.Fatalf("ob of two resources = %v, %d drops of the own one, want 1", err, other)
	}
	if drops != 0 {
		t.Fatalf("the kept resource was dropped %d times before Close", drops)
	}
}

// ownAndBorrowDefined is a component defining resource r (rep i32), whose
// destructor counts its runs. It exports make, func() -> own<r> (rep 42),
// bo, func(b: borrow<r>, h: own<r>) -> u32, and ob, the same with its
// parameters the other way round, which both drop h (its destructor runs
// while b is lent) and return b, and count, func() -> u32, the
// destructor's runs.
func ownAndBorrowDefined() []byte {
	var a wasmbin.Module
	g := a.Global(wasmbin.I32, true, wasmbin.I32Const(0))
	a.Export("dtor", wasmbin.ExportFunc, a.Func(a.Type([]byte{wasmbin.I32}, nil), nil,
		[]byte{0x23, byte(g), 0x41, 0x01, 0x6a, 0x24, byte(g)}))
	a.Export("count", wasmbin.ExportFunc, a.Func(a.Type(nil, []byte{wasmbin.I32}), nil, []byte{0x23, byte(g)}))
	var b wasmbin.Module
	newF := b.ImportFunc("x", "new", b.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32}))
	dropF := b.ImportFunc("x", "drop", b.Type([]byte{wasmbin.I32}, nil))
	two := b.Type([]byte{wasmbin.I32, wasmbin.I32}, []byte{wasmbin.I32})
	b.Export("mk", wasmbin.ExportFunc, b.Func(b.Type(nil, []byte{wasmbin.I32}), nil, cat(wasmbin.I32Const(42), []byte{0x10, byte(newF)})))
	b.Export("bo", wasmbin.ExportFunc, b.Func(two, nil, []byte{0x20, 0x01, 0x10, byte(dropF), 0x20, 0x00}))
	b.Export("ob", wasmbin.ExportFunc, b.Func(two, nil, []byte{0x20, 0x00, 0x10, byte(dropF), 0x20, 0x01}))
	lift := func(core, typ uint32) []byte { return cat([]byte{0x00, 0x00}, u32(core), vec(), u32(typ)) }
	export := func(n string, f uint32) []byte { return cat([]byte{0x00}, name(n), []byte{0x01}, u32(f), []byte{0x00}) }
	return comp(
		section(secCoreModule, a.Bytes()),
		section(secCoreModule, b.Bytes()),
		section(secCoreInstance, vec(cat([]byte{0x00}, u32(0), vec()))),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(0), name("dtor")),  // core func 0
			cat([]byte{0x00, 0x00, 0x01}, u32(0), name("count")), // core func 1
		)),
		section(secType, vec(resourceI32(0))),                                        // type 0: r
		section(secCanon, vec(cat([]byte{0x02}, u32(0)), cat([]byte{0x03}, u32(0)))), // core funcs 2, 3
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("new"), []byte{0x00}, u32(2)), cat(name("drop"), []byte{0x00}, u32(3)))),
			cat([]byte{0x00}, u32(1), vec(cat(name("x"), []byte{0x12}, u32(1)))),
		)),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(2), name("mk")), // core func 4
			cat([]byte{0x00, 0x00, 0x01}, u32(2), name("bo")), // core func 5
			cat([]byte{0x00, 0x00, 0x01}, u32(2), name("ob")), // core func 6
		)),
		section(secType, vec(
			[]byte{0x69, 0x00}, // type 1: own<r>
			[]byte{0x68, 0x00}, // type 2: borrow<r>
			cat([]byte{0x40}, vec(), []byte{0x00}, vidx(1)),                                              // type 3
			cat([]byte{0x40}, vec(cat(name("b"), vidx(2)), cat(name("h"), vidx(1))), []byte{0x00, 0x79}), // type 4
			cat([]byte{0x40}, vec(cat(name("h"), vidx(1)), cat(name("b"), vidx(2))), []byte{0x00, 0x79}), // type 5
			[]byte{0x40, 0x00, 0x00, 0x79},                                                               // type 6
		)),
		section(secCanon, vec(lift(4, 3), lift(5, 4), lift(6, 5), lift(1, 6))),
		section(secExport, vec(export("make", 0), export("bo", 1), export("ob", 2), export("count", 3))),
	)
}

// TestOwnAndBorrowOfOneDefined is TestOwnAndBorrowOfOne for a resource
// the component defines: a *Handle lent as borrow<r> (its representation,
// to the defining instance) and moved as own<r> in the same call is
// refused, whichever comes first, and stays the caller's. Before, with
// the borrow first, the component ran the destructor of the resource the
// call lent it, and the Handle was spent.
func TestOwnAndBorrowOfOneDefined(t *testing.T) {
	ctx := context.Background()
	inst, err := instantiate(t, ownAndBorrowDefined(), trapLinker{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	call := func(name string, args ...any) (any, error) {
		f, err := inst.Func(name)
		if err != nil {
			t.Fatal(err)
		}
		return f.Call(ctx, args...)
	}
	v, err := call("make")
	h, ok := v.(*Handle)
	if err != nil || !ok {
		t.Fatalf("make = %v, %v", v, err)
	}
	for _, name := range []string{"bo", "ob"} {
		v, err := call(name, h, h)
		if n, _ := call("count"); err == nil || n != uint32(0) {
			t.Fatalf("%s of one handle as borrow and own = %v, %v; %v destructor runs, want it refused", name, v, err, n)
		}
		t.Logf("%s: %v", name, err)
	}
	if err := h.Drop(ctx); err != nil {
		t.Fatalf("Drop after the refusals: %v", err)
	}
	if n, err := call("count"); err != nil || n != uint32(1) {
		t.Fatalf("destructor runs = %v, %v, want 1", n, err)
	}
}
