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
