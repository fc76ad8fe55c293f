package cabi

import (
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

// The offer slot. A guest may export cabi_offer_slot: func() -> i32,
// returning the address in its memory of four little-endian uint32 fields
// {ptr, size, served, zero}: a region the guest offers as the destination
// of the next fresh allocation (ptr 0 when none), where the last offered
// region was handed out, and the address its cabi_realloc returns for
// zero-sized allocations (0 when unknown). The Go guest library
// (guest/wasi/cabi) exports it; its cabi_realloc serves the same
// allocations the same way. Between its imports it offers a small static
// region of its own, so that the first small string or list of any result
// is served from the slot too.
//
// Every call into the guest costs the host more than a Go call (with
// termination checks on, wazero starts a goroutine for each), so
// Call.Realloc serves a fresh allocation of a guest's import from the slot
// when it can, with exactly the rules of that cabi_realloc: size 0 gets
// zero when set; otherwise ptr, when ptr is not 0, the size is at most
// size and ptr is a multiple of the alignment, and the host writes ptr 0,
// size 0 and served ptr, as cabi_realloc would. Anything else is a call of
// cabi_realloc as before. The slot is asked for once per instance, on the
// first allocation of an import, and only through the guest's own
// cabi_realloc path: never for a component's lowered import or a call of a
// guest export. A slot or an offered pointer outside the guest's memory,
// or misaligned, traps the instance as a bad cabi_realloc result does.

// offerSlotSize is the size of the slot in guest memory.
const offerSlotSize = 16

// findOfferSlot asks the guest once for its offer slot; inst.slot stays 0
// when it has none (no export, or one of another signature).
func (c *Call) findOfferSlot() {
	inst := c.inst
	inst.slotAsked = true
	f := c.mod.ExportedFunction("cabi_offer_slot")
	if f == nil {
		return
	}
	def := f.Definition()
	if len(def.ParamTypes()) != 0 || len(def.ResultTypes()) != 1 || def.ResultTypes()[0] != api.ValueTypeI32 {
		return
	}
	st := inst.stack[:]
	inst.inRealloc = true
	err := f.CallWithStack(inst.leaving(c.ctx, false), st)
	inst.inRealloc = false
	if err != nil {
		c.Trapf("cabi_offer_slot failed: %v", err)
	}
	inst.slot = uint32(st[0])
}

// takeOffer serves an allocation of size bytes aligned to align from the
// guest's offer slot, or reports false when cabi_realloc must.
func (c *Call) takeOffer(size, align uint32) (uint32, bool) {
	s := c.inst.slot
	if uint64(s)+offerSlotSize > uint64(len(c.buf)) {
		c.Trapf("the guest's offer slot at %#x lies outside its memory (%d bytes)", s, len(c.buf))
	}
	b := c.buf[s : s+offerSlotSize : s+offerSlotSize]
	var p uint32
	if size == 0 {
		if p = binary.LittleEndian.Uint32(b[12:]); p == 0 {
			return 0, false
		}
	} else {
		p = binary.LittleEndian.Uint32(b)
		if p == 0 || size > binary.LittleEndian.Uint32(b[4:]) || align == 0 || p%align != 0 {
			return 0, false
		}
		binary.LittleEndian.PutUint32(b, 0)
		binary.LittleEndian.PutUint32(b[4:], 0)
		binary.LittleEndian.PutUint32(b[8:], p)
	}
	if align == 0 || p&(align-1) != 0 || uint64(p)+uint64(size) > uint64(len(c.buf)) {
		c.Trapf("the guest's offer slot offered bad pointer %#x for %d bytes aligned to %d", p, size, align)
	}
	return p, true
}
