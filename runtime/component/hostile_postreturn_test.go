package component

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// postCalls is a component importing test:x/y's resource r and its
// function tick, func() -> u32, and exporting "f", func(h: own<r>) -> u32,
// which keeps h (handle 1) and returns 0, lifted with a post-return that
// calls out of the component: the resource.drop of r on handle 1 when
// drop is set, else tick.
func postCalls(drop bool) []byte {
	var m wasmbin.Module
	dropF := m.ImportFunc("x", "drop", m.Type([]byte{wasmbin.I32}, nil))
	tickF := m.ImportFunc("x", "tick", m.Type(nil, []byte{wasmbin.I32}))
	one := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	m.Export("f", wasmbin.ExportFunc, m.Func(one, nil, wasmbin.I32Const(0)))
	post := []byte{0x10, byte(tickF), 0x1a} // call tick, drop its result
	if drop {
		post = cat(wasmbin.I32Const(1), []byte{0x10, byte(dropF)})
	}
	m.Export("post", wasmbin.ExportFunc, m.Func(m.Type([]byte{wasmbin.I32}, nil), nil, post))
	it := cat([]byte{0x42}, vec(
		cat([]byte{0x04, 0x00}, name("r"), []byte{0x03, 0x01}), // its type 0: r
		cat([]byte{0x01, 0x40}, vec(), []byte{0x00, 0x79}),     // its type 1: func() -> u32
		cat([]byte{0x04, 0x00}, name("tick"), []byte{0x01}, u32(1)),
	))
	return comp(
		section(secType, vec(it)),
		section(secImport, vec(cat([]byte{0x00}, name("test:x/y"), []byte{0x05}, u32(0)))),
		section(secAlias, vec(
			cat([]byte{0x03, 0x00}, u32(0), name("r")),    // type 1
			cat([]byte{0x01, 0x00}, u32(0), name("tick")), // func 0
		)),
		section(secType, vec([]byte{0x69, 0x01})), // type 2: own<r>
		section(secCanon, vec(
			cat([]byte{0x03}, u32(1)),              // core func 0: resource.drop r
			cat([]byte{0x01, 0x00}, u32(0), vec()), // core func 1: tick lowered
		)),
		section(secCoreModule, m.Bytes()),
		section(secCoreInstance, vec(
			cat([]byte{0x01}, vec(cat(name("drop"), []byte{0x00}, u32(0)), cat(name("tick"), []byte{0x00}, u32(1)))),
			cat([]byte{0x00}, u32(0), vec(cat(name("x"), []byte{0x12}, u32(0)))),
		)),
		section(secAlias, vec(
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("f")),    // core func 2
			cat([]byte{0x00, 0x00, 0x01}, u32(1), name("post")), // core func 3
		)),
		section(secType, vec(cat([]byte{0x40}, vec(cat(name("h"), vidx(2))), []byte{0x00, 0x79}))), // type 3
		section(secCanon, vec(cat([]byte{0x00, 0x00}, u32(2), vec(cat([]byte{0x05}, u32(3))), u32(3)))),
		section(secExport, vec(cat([]byte{0x00}, name("f"), []byte{0x01}, u32(1), []byte{0x00}))),
	)
}

// tickLinker serves test:x/y's [resource-drop]r as dropLinker does and
// tick, func() -> u32, with glue like the generated glue of a function
// of scalars: no cabi.Call, so no instance and none of its checks.
type tickLinker struct {
	typ   *cabi.ResourceType
	ticks *int
}

func (l tickLinker) Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error) {
	if module != "test:x/y" || name != "tick" {
		return dropLinker{l.typ}.Resolve(module, name, params, results)
	}
	fn := func(ctx context.Context, mod api.Module, stack []uint64) {
		defer func() {
			if r := recover(); r != nil {
				cabi.Rethrow(ctx, module+"#"+name, r)
			}
		}()
		*l.ticks++
		stack[0] = 7
	}
	return cabi.HostFunc{Name: name, Fn: fn, Params: params, Results: results}, nil
}

// TestHostilePostReturnLeaves checks the Canonical ABI's may-leave rule
// for post-return: a host function the post-return of an export called
// by Func.Call calls (a resource.drop, whose glue begins a cabi.Call; a
// scalar import, whose glue does not) traps, the call fails naming
// post-return, and the instance is poisoned; the resource the component
// kept stays in its table, for Close to drop once. Before, both calls
// ran: the post-return dropped the resource the export kept.
func TestHostilePostReturnLeaves(t *testing.T) {
	ctx := context.Background()
	typ := cabi.NewResourceType("test:x/y.r")
	for _, tc := range []struct {
		name string
		drop bool
	}{
		{"resource-drop", true},
		{"scalar-import", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ticks := 0
			inst, err := instantiate(t, postCalls(tc.drop), tickLinker{typ, &ticks})
			if err != nil {
				t.Fatal(err)
			}
			f, err := inst.Func("f")
			if err != nil {
				t.Fatal(err)
			}
			drops := 0
			hr := HostResource{Type: typ, Value: &dropPtr{&drops}}
			v, err := f.Call(ctx, hr)
			if err == nil || !strings.Contains(err.Error(), "called from post-return") {
				t.Fatalf("Call = %v, %v, want an error saying post-return called the host", v, err)
			}
			t.Log(err)
			if drops != 0 || ticks != 0 {
				t.Fatalf("the host functions ran: %d drops, %d ticks", drops, ticks)
			}
			if _, err := f.Call(ctx, HostResource{Type: typ, Value: &dropPtr{new(int)}}); err == nil || !strings.Contains(err.Error(), "trapped before") {
				t.Fatalf("a second call = %v, want the faulted instance's refusal", err)
			}
			if n := inst.ci.Table().Len(); n != 1 {
				t.Fatalf("%d handles in the table, want the one the export kept", n)
			}
			inst.Close(ctx)
			inst.ci.Close(ctx) // instantiate's, not the component's own
			if drops != 1 {
				t.Fatalf("Close dropped the resource %d times, want once", drops)
			}
		})
	}
}
