//go:build wasip1

package cabi

import "unsafe"

// pinned holds every heap block cabi_realloc handed out since the last Unpin.
var pinned []unsafe.Pointer

// arena serves cabi_realloc without touching the Go heap, so that the usual
// result costs no allocation. Blocks live until Unpin; bindings copy what
// they keep. Results larger than the arena fall back to the heap, under the
// gate (see the package doc, "Gate").
var arena [arenaSize / 8]uint64

// arenaUsed is how many bytes of arena are handed out since the last Unpin.
var arenaUsed uint32

// arenaSize is the arena's size in bytes: a poll over 65,536 pollables, or a
// 256 KiB list<u8>, fits.
const arenaSize = 256 << 10

// slot is the offer slot (see the package doc, "Offer slot"): the region
// offered for the next allocation (its address and size in bytes: what
// Offer offered, otherwise standing; address 0 once taken), where the last
// offered region was handed out (served, so that a lift can tell the host
// wrote into it), and the address realloc returns for zero-sized
// allocations. The host reads and writes it in place of calling realloc,
// so its layout is fixed: four little-endian uint32 fields.
var slot struct {
	ptr, size, served, zero uint32
}

// standing is the region the slot offers while no caller offers one: the
// first string or list of an import's result that fits lands there without
// a call back into the guest (the host's call of cabi_realloc costs it a
// goroutine start under wazero's termination checks), and its lift copies
// it out, as from the arena. A server name, an ALPN ID, an error message
// or a chain's outer list fit; what does not fit is the arena's.
var standing [standingSize / 8]uint64

// standingSize is standing's size in bytes.
const standingSize = 4 << 10

func init() { offerStanding() }

// offerStanding puts standing in the slot, served cleared.
func offerStanding() {
	slot.ptr, slot.size, slot.served = standingAddr(), standingSize, 0
}

// standingAddr is standing's address.
func standingAddr() uint32 { return uint32(uintptr(unsafe.Pointer(&standing))) }

// target keeps the offered region reachable (and on the heap: storing it
// here makes it escape) while its address sits in slot.
var target unsafe.Pointer

// zero is the address returned for zero-sized allocations.
var zero uint64

// ReadInto offers b as the destination of the next allocation of at most
// len(b) bytes with alignment 1 (a list<u8> result), in place of standing.
// It stays offered until used or until [Unpin].
func ReadInto(b []byte) {
	if len(b) == 0 {
		return
	}
	Offer(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
}

// Offer offers the size bytes at p (Go memory the caller keeps alive) as the
// destination of the next fresh allocation that fits and whose alignment p
// meets: a list result the caller can pre-size lands there, and the lift
// ([LiftList]) returns it without a copy. It stays offered until used or
// until [Unpin].
//
// Offer waits at the gate ([Wait]) before it writes the offer slot, which
// the host may read during another goroutine's call; the call it is for
// must follow with nothing in between that can switch goroutines.
func Offer(p unsafe.Pointer, size uint32) {
	Wait()
	target = p
	slot.ptr, slot.size = uint32(uintptr(p)), size
}

// Unpin releases the blocks allocated during the last import, withdraws a
// buffer offered by [ReadInto] (offering standing again) and releases the
// gate taken by [Enter]. Call it once the results are Go values.
func Unpin() {
	busy = false
	clear(pinned)
	pinned = pinned[:0]
	clear(kept)
	kept = kept[:0]
	target = nil
	offerStanding()
	arenaUsed = 0
}

// realloc implements cabi_realloc: (original-ptr, original-size, alignment,
// new-size) -> ptr, as the Canonical ABI calls it to allocate (original 0, 0)
// or to grow a block.
//
// See https://github.com/WebAssembly/component-model/blob/main/design/mvp/CanonicalABI.md
//
//go:wasmexport cabi_realloc
func realloc(ptr unsafe.Pointer, oldSize, align, newSize uint32) unsafe.Pointer {
	if newSize == 0 {
		return unsafe.Pointer(&zero)
	}
	if oldSize == 0 && slot.ptr != 0 && newSize <= slot.size && align != 0 && slot.ptr%align == 0 {
		p := slot.ptr
		slot.ptr, slot.size, slot.served = 0, 0, p
		target = nil
		return Ptr(p)
	}
	if newSize <= oldSize {
		return ptr
	}
	if p := arenaAlloc(ptr, oldSize, align, newSize); p != nil {
		return p
	}
	// The heap allocation (and the append) may park this goroutine; the
	// wasmexport wrapper then runs the scheduler, and the gate holds every
	// other goroutine before its import until this returns to the host.
	// The binding's Enter has taken it already; the host of an export's
	// arguments calls realloc outside any binding, so take it here too.
	held := busy
	busy, inRealloc = true, true
	stats.HeapBlocks++
	p := alloc(newSize, align)
	if oldSize > 0 {
		copy(unsafe.Slice((*byte)(p), newSize), unsafe.Slice((*byte)(ptr), oldSize))
	}
	pinned = append(pinned, p)
	busy, inRealloc = held, false
	return p
}

// offerSlot returns the address of slot, for a host that serves
// allocations from it without calling realloc (see the package doc).
//
//go:wasmexport cabi_offer_slot
func offerSlot() uint32 {
	slot.zero = uint32(uintptr(unsafe.Pointer(&zero)))
	return uint32(uintptr(unsafe.Pointer(&slot)))
}

// arenaAlloc allocates from the arena, growing the last block in place when
// ptr is it, or returns nil when the arena has no room.
func arenaAlloc(ptr unsafe.Pointer, oldSize, align, newSize uint32) unsafe.Pointer {
	base := uintptr(unsafe.Pointer(&arena))
	if oldSize > 0 && uintptr(ptr) >= base && uintptr(ptr)+uintptr(oldSize) == base+uintptr(arenaUsed) {
		off := uint32(uintptr(ptr) - base)
		if off+newSize <= arenaSize {
			arenaUsed = off + newSize
			return ptr
		}
		return nil
	}
	if align == 0 || align > 8 {
		align = 8
	}
	off := (arenaUsed + align - 1) &^ (align - 1)
	if off+newSize > arenaSize || off+newSize < off {
		return nil
	}
	arenaUsed = off + newSize
	p := unsafe.Add(unsafe.Pointer(&arena), off)
	if oldSize > 0 {
		copy(unsafe.Slice((*byte)(p), newSize), unsafe.Slice((*byte)(ptr), oldSize))
	}
	return p
}

// alloc returns a zeroed heap block of size bytes aligned to align (at most
// 8; larger alignments do not occur in WASI 0.2 types on wasm32).
func alloc(size, align uint32) unsafe.Pointer {
	if align <= 1 {
		return unsafe.Pointer(unsafe.SliceData(make([]byte, size)))
	}
	n := (size + 7) / 8
	return unsafe.Pointer(unsafe.SliceData(make([]uint64, n)))
}
