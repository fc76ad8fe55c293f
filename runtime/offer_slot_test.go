package runtime_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
)

// The offer-slot guest is assembled here: it imports get-random-bytes
// (a list<u8> result) and exports
//
//   - cabi_offer_slot, returning the i32 at address 0 (the test writes the
//     slot's address there);
//   - cabi_realloc, counting its calls in the i32 at address 4 and
//     returning offerFallback;
//   - get, calling get-random-bytes(the i64 at address 8) with its return
//     area at offerRet.
const (
	offerRet      = 16
	offerSlot     = 0x100
	offerFallback = 0x8000
)

func offerSlotModule() []byte {
	var m wasmbin.Module
	m.ImportFunc("wasi:random/random@0.2.0", "get-random-bytes", m.Type([]byte{i64, i32}, nil))
	m.Memory(1, 1)
	tRealloc := m.Type([]byte{i32, i32, i32, i32}, []byte{i32})
	realloc := wasmbin.Cat(i32Const(4), i32Const(4), []byte{0x28, 2, 0}, i32Const(1), []byte{0x6a, 0x36, 2, 0},
		i32Const(offerFallback))
	m.Export("cabi_realloc", wasmbin.ExportFunc, m.Func(tRealloc, nil, realloc))
	m.Export("cabi_offer_slot", wasmbin.ExportFunc, m.Func(m.Type(nil, []byte{i32}), nil, wasmbin.Cat(i32Const(0), []byte{0x28, 2, 0})))
	get := wasmbin.Cat(i32Const(8), []byte{0x29, 3, 0}, i32Const(offerRet), []byte{0x10, 0})
	m.Export("get", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, get))
	m.Export("memory", wasmbin.ExportMemory, 0)
	return m.Bytes()
}

const i64 = 0x7e

// offerSlotGuest returns a runtime and the offer-slot guest compiled in it.
func offerSlotGuest(t *testing.T) (*runtime.Runtime, wazero.CompiledModule) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig())
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, offerSlotModule())
	if err != nil {
		t.Fatal(err)
	}
	return rt, compiled
}

// TestOfferSlot calls a list-returning import of a guest whose offer slot
// holds each case's fields, and checks where the list went, whether
// cabi_realloc was called, what the host left in the slot, and that a
// hostile slot traps the guest with a message, never panics the host.
func TestOfferSlot(t *testing.T) {
	ctx := context.Background()
	rt, compiled := offerSlotGuest(t)
	type slot struct{ ptr, size, served, zero uint32 }
	for _, tc := range []struct {
		name     string
		at       uint32 // the slot's address
		slot     slot
		n        uint64 // bytes asked for
		wantPtr  uint32
		reallocs uint32
		wantSlot slot
		anySlot  bool // the list overwrote the slot
		trap     string
	}{
		{name: "offer taken", at: offerSlot, slot: slot{0x1000, 32, 0, 0}, n: 16,
			wantPtr: 0x1000, wantSlot: slot{0, 0, 0x1000, 0}},
		{name: "exact fit", at: offerSlot, slot: slot{0x1000, 16, 0, 0}, n: 16,
			wantPtr: 0x1000, wantSlot: slot{0, 0, 0x1000, 0}},
		{name: "too small", at: offerSlot, slot: slot{0x1000, 15, 0, 0}, n: 16,
			wantPtr: offerFallback, reallocs: 1, wantSlot: slot{0x1000, 15, 0, 0}},
		{name: "no offer", at: offerSlot, slot: slot{0, 64, 0, 0}, n: 16,
			wantPtr: offerFallback, reallocs: 1, wantSlot: slot{0, 64, 0, 0}},
		{name: "empty list, zero known", at: offerSlot, slot: slot{0x1000, 32, 0, 0x2000}, n: 0,
			wantPtr: 0x2000, wantSlot: slot{0x1000, 32, 0, 0x2000}},
		{name: "empty list, zero unknown", at: offerSlot, slot: slot{0x1000, 32, 0, 0}, n: 0,
			wantPtr: offerFallback, reallocs: 1, wantSlot: slot{0x1000, 32, 0, 0}},
		{name: "no slot", at: 0, n: 16, wantPtr: offerFallback, reallocs: 1},
		{name: "slot outside memory", at: 0xfffffff8, n: 16, trap: "offer slot at 0xfffffff8 lies outside"},
		{name: "slot across the end", at: 0xfff8, n: 16, trap: "offer slot at 0xfff8 lies outside"},
		{name: "offer outside memory", at: offerSlot, slot: slot{0xffff0000, 0xffffffff, 0, 0}, n: 16,
			trap: "offered bad pointer 0xffff0000"},
		{name: "offer across the end", at: offerSlot, slot: slot{0xfff8, 64, 0, 0}, n: 16,
			trap: "offered bad pointer 0xfff8"},
		{name: "zero outside memory", at: offerSlot, slot: slot{0, 0, 0, 0x10001}, n: 0,
			trap: "offered bad pointer 0x10001"},
		// The slot's size only bounds what may be taken: a list larger
		// than the memory, taken from an offer claiming 4 GiB, traps as
		// a cabi_realloc returning that pointer would.
		{name: "offer claims 4 GiB", at: offerSlot, slot: slot{0x1000, 0xffffffff, 0, 0}, n: 0x20000,
			trap: "offered bad pointer 0x1000 for 131072 bytes"},
		{name: "zero at an odd address, alignment 1", at: offerSlot, slot: slot{0, 0, 0, 0x2001}, n: 0,
			wantPtr: 0x2001, wantSlot: slot{0, 0, 0, 0x2001}},
		// An offer naming the slot itself or the import's return area is
		// the guest's own memory, written as it would be had its
		// cabi_realloc returned the pointer: the list lands there (and
		// the return area is written after it).
		{name: "offer is the slot", at: offerSlot, slot: slot{offerSlot, 32, 0, 0}, n: 16,
			wantPtr: offerSlot, anySlot: true},
		{name: "offer is the return area", at: offerSlot, slot: slot{offerRet, 32, 0, 0}, n: 16,
			wantPtr: offerRet, wantSlot: slot{0, 0, offerRet, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close(ctx)
			mem := inst.Module().Memory()
			mem.WriteUint32Le(0, tc.at)
			mem.WriteUint64Le(8, tc.n)
			if tc.at != 0 && tc.at < 0xff00 {
				for i, v := range []uint32{tc.slot.ptr, tc.slot.size, tc.slot.served, tc.slot.zero} {
					mem.WriteUint32Le(tc.at+4*uint32(i), v)
				}
			}
			_, err = inst.Module().ExportedFunction("get").Call(inst.Context())
			if tc.trap != "" {
				var trap *cabi.Trap
				if !errors.As(err, &trap) || !strings.Contains(err.Error(), tc.trap) {
					t.Fatalf("call: %v, want a trap saying %q", err, tc.trap)
				}
				if !inst.Cabi().Trapped() {
					t.Error("instance not marked trapped")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ret, _ := mem.Read(offerRet, 8)
			if p, n := binary.LittleEndian.Uint32(ret), binary.LittleEndian.Uint32(ret[4:]); p != tc.wantPtr || uint64(n) != tc.n {
				t.Errorf("list at %#x, %d bytes; want %#x, %d", p, n, tc.wantPtr, tc.n)
			}
			if got, _ := mem.ReadUint32Le(4); got != tc.reallocs {
				t.Errorf("cabi_realloc called %d times, want %d", got, tc.reallocs)
			}
			if tc.at != 0 && !tc.anySlot {
				var got slot
				for i, f := range []*uint32{&got.ptr, &got.size, &got.served, &got.zero} {
					*f, _ = mem.ReadUint32Le(tc.at + 4*uint32(i))
				}
				if got != tc.wantSlot {
					t.Errorf("slot after the call %+v, want %+v", got, tc.wantSlot)
				}
			}
		})
	}
}

// TestOfferSlotBetweenCalls: the host asks for the slot once per instance
// and reads its fields afresh on every allocation. A guest that rewrites
// the fields between calls gets the new offer; one whose cabi_offer_slot
// later names another address is not asked again, and the slot it first
// named stays the one read: its memory, bounds-checked, either way.
func TestOfferSlotBetweenCalls(t *testing.T) {
	ctx := context.Background()
	rt, compiled := offerSlotGuest(t)
	inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	mem := inst.Module().Memory()
	offer := func(at, ptr, size uint32) {
		mem.WriteUint32Le(at, ptr)
		mem.WriteUint32Le(at+4, size)
	}
	get := func(want uint32) {
		t.Helper()
		if _, err := inst.Module().ExportedFunction("get").Call(inst.Context()); err != nil {
			t.Fatal(err)
		}
		if p, _ := mem.ReadUint32Le(offerRet); p != want {
			t.Errorf("list at %#x, want %#x", p, want)
		}
	}
	mem.WriteUint32Le(0, offerSlot)
	mem.WriteUint64Le(8, 16)
	offer(offerSlot, 0x1000, 32)
	get(0x1000)
	offer(offerSlot, 0x2000, 32) // rewritten
	get(0x2000)
	mem.WriteUint32Le(0, 0x200) // cabi_offer_slot now names 0x200
	offer(0x200, 0x3000, 32)
	offer(offerSlot, 0x4000, 32)
	get(0x4000)
	if n, _ := mem.ReadUint32Le(4); n != 0 {
		t.Errorf("cabi_realloc called %d times, want none", n)
	}
	if p, _ := mem.ReadUint32Le(0x200); p != 0x3000 {
		t.Errorf("the slot at 0x200, never asked for, was written: ptr %#x", p)
	}
}
