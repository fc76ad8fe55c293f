package cabi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// allocWasm exports a one-page memory "mem" and "alloc", a realloc that
// always returns 64.
var allocWasm = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x09, 0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, // type (i32 x4) -> i32
	0x03, 0x02, 0x01, 0x00, // func 0: type 0
	0x05, 0x03, 0x01, 0x00, 0x01, // memory min 1
	0x07, 0x0f, 0x02, 0x03, 'm', 'e', 'm', 0x02, 0x00, 0x05, 'a', 'l', 'l', 'o', 'c', 0x00, 0x00,
	0x0a, 0x07, 0x01, 0x05, 0x00, 0x41, 0xc0, 0x00, 0x0b, // i32.const 64
}

// TestLoweredOptions checks that a lowered call takes memory and realloc
// from its options, not from a calling module or an instance default.
func TestLoweredOptions(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.InstantiateWithConfig(ctx, allocWasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	inst := NewInstance()
	mem, alloc := mod.ExportedMemory("mem"), mod.ExportedFunction("alloc")

	l := NewLowered(Options{Instance: inst, Memory: mem, Realloc: alloc})
	func() {
		call := Begin(ctx, l, "test#store")
		c := &call
		defer c.End()
		p, n := c.StoreString("hello")
		if p != 64 || n != 5 {
			t.Fatalf("StoreString = %d, %d; want 64, 5", p, n)
		}
	}()
	if b, _ := mem.Read(64, 5); string(b) != "hello" {
		t.Fatalf("memory at 64 = %q", b)
	}
	if inst.Module() != nil {
		t.Fatal("a lowered call bound the instance to a module")
	}

	// Without a realloc option the call traps, naming the option, even
	// though the instance has a module with memory bound elsewhere.
	noRealloc := NewLowered(Options{Instance: NewInstance(), Memory: mem})
	err = catch(func() {
		call := Begin(ctx, noRealloc, "test#alloc")
		c := &call
		defer c.End()
		c.StoreString("x")
	})
	var trap *Trap
	if !errors.As(err, &trap) || !strings.Contains(trap.Msg, "no realloc option") {
		t.Fatalf("err = %v, want a trap about the realloc option", err)
	}

	// Without a memory option every pointer is out of bounds.
	noMemory := NewLowered(Options{Instance: NewInstance()})
	err = catch(func() {
		call := Begin(ctx, noMemory, "test#load")
		c := &call
		defer c.End()
		c.U32(0)
	})
	if !errors.As(err, &trap) || !strings.Contains(trap.Msg, "out-of-bounds") {
		t.Fatalf("err = %v, want an out-of-bounds trap", err)
	}
}

func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err, _ = r.(error)
		}
	}()
	f()
	return nil
}

// optionsGuest is an OptionsGuest whose one export, "t#f", has options
// other than the guest-wide Memory and cabi_realloc, as two lifts of a
// component may.
type optionsGuest struct {
	fn         api.Function
	mem        api.Memory   // the guest-wide memory, which must not be used
	realloc    api.Function // the guest-wide cabi_realloc, likewise
	optMem     api.Memory
	optRealloc api.Function
}

func (g *optionsGuest) ExportedFunction(name string) api.Function {
	switch name {
	case "t#f":
		return g.fn
	case "cabi_realloc":
		return g.realloc
	}
	return nil
}

func (g *optionsGuest) Memory() api.Memory { return g.mem }

func (g *optionsGuest) ExportOptions(name string) (api.Memory, api.Function) {
	if name == "t#f" {
		return g.optMem, g.optRealloc
	}
	return nil, nil
}

// TestExportOptions checks that a call of an export bound from an
// OptionsGuest allocates and writes through that export's own memory and
// realloc, never the guest-wide ones, and that an export whose options
// have no realloc traps naming the option although the guest has a
// cabi_realloc.
func TestExportOptions(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	var mods [2]api.Module
	for i := range mods {
		m, err := r.InstantiateWithConfig(ctx, allocWasm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		mods[i] = m
	}
	own, other := mods[0], mods[1]
	i32 := api.ValueTypeI32
	sig := []api.ValueType{i32, i32, i32, i32}
	store := func(g *optionsGuest) error {
		b := NewBinder(g, "t", "")
		f := b.Func("f", "", sig, []api.ValueType{i32})
		x := b.Exports(NewInstance(), nil, 4, true)
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		return catch(func() {
			var err error
			defer func() {
				if err != nil {
					panic(err)
				}
			}()
			var c Call
			defer c.EndExport(&err)
			c.BeginExport(ctx, &x, &f)
			if p, n := c.StoreString("hello"); p != 64 || n != 5 {
				t.Errorf("StoreString = %d, %d; want 64, 5", p, n)
			}
		})
	}

	g := &optionsGuest{fn: own.ExportedFunction("alloc"), mem: other.ExportedMemory("mem"), realloc: other.ExportedFunction("alloc"),
		optMem: own.ExportedMemory("mem"), optRealloc: own.ExportedFunction("alloc")}
	if err := store(g); err != nil {
		t.Fatal(err)
	}
	if b, _ := own.ExportedMemory("mem").Read(64, 5); string(b) != "hello" {
		t.Fatalf("the export's memory at 64 = %q, want hello", b)
	}
	if b, _ := other.ExportedMemory("mem").Read(64, 5); string(b) != "\x00\x00\x00\x00\x00" {
		t.Fatalf("the guest-wide memory was written: %q", b)
	}

	g.optRealloc = nil
	err := store(g)
	var trap *Trap
	if !errors.As(err, &trap) || trap.Func != "t#f" || !strings.Contains(trap.Msg, "canon lift has no realloc option") {
		t.Fatalf("err = %v, want a trap of t#f naming the realloc option", err)
	}
}
