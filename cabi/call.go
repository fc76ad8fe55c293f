package cabi

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// A Call is the state of one host function call made by a guest. Generated
// glue creates it on its stack with Begin or BeginScalar and defers End.
// Every method that detects a guest fault panics with a *Trap naming Func.
type Call struct {
	ctx  context.Context
	Func string
	inst *Instance
	// table is the handle table of the call: the instance's own, or the
	// table of the component instance a lowered function or an export
	// belongs to.
	table *Table
	mod   api.Module // the calling core module; nil for a lowered function
	buf   []byte     // the whole guest memory; refreshed after cabi_realloc

	// mem and realloc are the call's memory and realloc: a lowered
	// function's options, or the calling module's memory and cabi_realloc.
	mem     api.Memory
	realloc api.Function
	lowered bool
	fn      *ExportFunc // the export called, for a call of a guest export
	owner   *Exports    // the bound interface called through

	lifted uint64 // bytes of lists and strings lifted so far
}

// liftBudget bounds what one call may lift, in wasm bytes, relative to the
// guest's memory: an honest guest's arguments fit its memory, while a
// hostile one could otherwise make the host copy the same region many
// times over (a list of strings all pointing at one large string).
func (c *Call) liftBudget(n uint64) {
	c.lifted += n
	if c.lifted > LiftBudget(uint64(len(c.buf))) {
		c.Trapf("arguments lift to more than twice the guest memory (%d bytes): aliased lists or strings", c.lifted)
	}
}

// LiftBudget is the most bytes of lists and strings one call may lift
// from a guest whose memory is memory bytes: twice that, and a MiB. An
// honest guest's values fit its memory; a hostile one's lists of aliased
// strings or lists could otherwise make the host copy the same region
// any number of times.
func LiftBudget(memory uint64) uint64 { return 2*memory + 1<<20 }

// MakeList returns the slice that a list of n elements, each elemSize
// bytes in guest memory, lifts to; CheckList has checked the list. What
// the slice holds on the host beyond the list's bytes in the guest counts
// against the call's lift budget too: a string's or a list's header is
// two or three times its 8 bytes there, so a guest memory of empty
// strings or lists would otherwise make the host hold several times that
// memory.
func MakeList[T any](c *Call, n, elemSize uint32) []T {
	var zero T
	if host := uint64(unsafe.Sizeof(zero)); host > uint64(elemSize) {
		c.liftBudget(uint64(n) * (host - uint64(elemSize)))
	}
	return make([]T, n)
}

// Begin starts a call of fn (the qualified function name) by module mod
// within ctx. It finds the instance in ctx, binds mod to it on first use,
// and traps when the instance is missing, trapped, closed, bound to
// another module, or re-entered from cabi_realloc. When mod is a
// [*Lowered], the call is a component's lowered import: the instance,
// memory and realloc are the lowered function's [Options].
func Begin(ctx context.Context, mod api.Module, fn string) (c Call) {
	// One result, filled in place: a Call is large, and copying it through
	// a helper's result costs a lowered call a tenth of its time.
	if l, ok := mod.(*Lowered); ok {
		inst := l.opts.Instance
		enter(inst, fn)
		c.ctx, c.Func, c.inst, c.table, c.mem, c.realloc, c.lowered = ctx, fn, inst, l.table, l.opts.Memory, l.opts.Realloc, true
	} else {
		inst := InstanceFrom(ctx)
		if inst == nil {
			Trapf(fn, "no cabi.Instance in the context: the embedder must call cabi.WithInstance")
		}
		if inst.module != mod {
			if err := inst.Bind(mod); err != nil {
				Trapf(fn, "%v", err)
			}
		}
		enter(inst, fn)
		c.ctx, c.Func, c.inst, c.table, c.mod, c.mem, c.realloc = ctx, fn, inst, &inst.table, mod, inst.memory, inst.realloc
	}
	if c.mem != nil {
		c.buf, _ = c.mem.Read(0, c.mem.Size())
	}
	return c
}

// enter applies the entry checks every call makes (the instance halted,
// the Component Model's may-leave rule) and resets the per-call state.
func enter(inst *Instance, fn string) {
	if inst.isHalted() {
		panic(inst.Refusal(fn))
	}
	inst.MayLeave(fn)
	inst.borrowed = inst.borrowed[:0]
}

// MayLeave applies the Canonical ABI's may-leave rule to a call of the
// host function fn: inside a realloc the host called to lower values
// ([Call.Realloc], [Instance.CallRealloc]) or a post-return function
// ([Instance.CallPostReturn]), the guest may not call out, and the call
// traps, naming fn and which of the two it came from, and marks the
// instance trapped. [Begin] applies it; a component's lowered imports
// apply it before their glue, so that scalar functions, whose glue needs
// no instance, are held to it too.
func (inst *Instance) MayLeave(fn string) {
	if inst.inRealloc || inst.inPostReturn {
		inst.leaveTrap(fn, inst.inPostReturn)
	}
}

// leaveTrap marks the instance trapped and panics with the trap of a host
// function fn called where the guest may not leave, from a post-return
// function when post is set, else from cabi_realloc (MayLeave and
// MayLeaveCtx, kept small enough to inline into every call's entry).
func (inst *Instance) leaveTrap(fn string, post bool) {
	inst.setTrapped()
	if post {
		Trapf(fn, "host function called from post-return (the Component Model allows no call out of the instance during post-return)")
	}
	Trapf(fn, "host function called from cabi_realloc")
}

// BeginScalar starts a call of fn whose parameters and results are plain
// numbers: it neither looks up the instance nor touches memory.
func BeginScalar(ctx context.Context, fn string) Call {
	return Call{ctx: ctx, Func: fn}
}

// End must be deferred by the glue right after Begin. It runs the
// releases registered with [Instance.AfterCall]; it recovers a panic
// (a guest fault or a host implementation failure), marks the instance
// trapped, drops resources lifted as own<R> but not handed to the host, and
// panics again with a *Trap naming the function.
func (c *Call) End() {
	if c.inst != nil && len(c.inst.afterCall) > 0 {
		c.inst.runAfterCall()
	}
	r := recover()
	if r == nil && c.inst != nil && c.inst.reserveErr != nil {
		// A result whose reservation failed and that the glue did not
		// store (it traps at its first Own, see Reserve).
		r = &Trap{Func: c.Func, Msg: c.inst.reserveErr.Error()}
	}
	if r != nil {
		c.inst.abandonCall()
		if exit, ok := r.(*sys.ExitError); ok {
			// An exit (wasi:cli/exit) is not a fault, but it unwinds
			// the guest: the instance is not entered again.
			markExited(c.ctx, c.inst, exit)
			panic(exit)
		}
		markTrapped(c.ctx, c.inst)
		panic(toTrap(c.Func, r))
	}
}

// abandonCall forgets the per-call state of a call that faulted: the owns
// lifted but not committed, the handles reserved but not handed out.
func (inst *Instance) abandonCall() {
	if inst == nil {
		return
	}
	inst.resetPending()
	inst.reserved, inst.nextOwn, inst.reserveErr = inst.reserved[:0], 0, nil
	inst.inRealloc, inst.inPostReturn = false, false
	inst.unlend()
}

// Instance returns the instance, nil for a scalar call.
func (c *Call) Instance() *Instance { return c.inst }

// Trapf panics with a *Trap naming the call's function.
func (c *Call) Trapf(format string, args ...any) { Trapf(c.Func, format, args...) }

func (c *Call) oob(p uint32, n uint64) {
	c.Trapf("out-of-bounds memory access: %d bytes at %#x, memory size %d", n, p, len(c.buf))
}

// Check traps unless [p, p+n) lies in guest memory and p is a multiple of
// align (a power of two).
func (c *Call) Check(p, n, align uint32) {
	if p&(align-1) != 0 {
		c.Trapf("misaligned pointer %#x, want alignment %d", p, align)
	}
	if uint64(p)+uint64(n) > uint64(len(c.buf)) {
		c.oob(p, uint64(n))
	}
}

// CheckList traps unless a list of n elements of size elemSize at p lies in
// guest memory and p is aligned to align.
func (c *Call) CheckList(p, n, elemSize, align uint32) {
	if p&(align-1) != 0 {
		c.Trapf("misaligned list pointer %#x, want alignment %d", p, align)
	}
	size := uint64(n) * uint64(elemSize)
	if uint64(p)+size > uint64(len(c.buf)) {
		c.oob(p, size)
	}
	c.liftBudget(size)
}

// Loads. Each checks bounds; alignment is checked where a pointer enters.

// U8 loads a byte at p.
func (c *Call) U8(p uint32) uint8 {
	if uint64(p)+1 > uint64(len(c.buf)) {
		c.oob(p, 1)
	}
	return c.buf[p]
}

// U16 loads a little-endian uint16 at p.
func (c *Call) U16(p uint32) uint16 {
	if uint64(p)+2 > uint64(len(c.buf)) {
		c.oob(p, 2)
	}
	return binary.LittleEndian.Uint16(c.buf[p:])
}

// U32 loads a little-endian uint32 at p.
func (c *Call) U32(p uint32) uint32 {
	if uint64(p)+4 > uint64(len(c.buf)) {
		c.oob(p, 4)
	}
	return binary.LittleEndian.Uint32(c.buf[p:])
}

// U64 loads a little-endian uint64 at p.
func (c *Call) U64(p uint32) uint64 {
	if uint64(p)+8 > uint64(len(c.buf)) {
		c.oob(p, 8)
	}
	return binary.LittleEndian.Uint64(c.buf[p:])
}

// F32 loads a float32 at p.
func (c *Call) F32(p uint32) float32 { return math.Float32frombits(c.U32(p)) }

// F64 loads a float64 at p.
func (c *Call) F64(p uint32) float64 { return math.Float64frombits(c.U64(p)) }

// Stores.

// PutU8 stores a byte at p.
func (c *Call) PutU8(p uint32, v uint8) {
	if uint64(p)+1 > uint64(len(c.buf)) {
		c.oob(p, 1)
	}
	c.buf[p] = v
}

// PutU16 stores a little-endian uint16 at p.
func (c *Call) PutU16(p uint32, v uint16) {
	if uint64(p)+2 > uint64(len(c.buf)) {
		c.oob(p, 2)
	}
	binary.LittleEndian.PutUint16(c.buf[p:], v)
}

// PutU32 stores a little-endian uint32 at p.
func (c *Call) PutU32(p uint32, v uint32) {
	if uint64(p)+4 > uint64(len(c.buf)) {
		c.oob(p, 4)
	}
	binary.LittleEndian.PutUint32(c.buf[p:], v)
}

// PutU64 stores a little-endian uint64 at p.
func (c *Call) PutU64(p uint32, v uint64) {
	if uint64(p)+8 > uint64(len(c.buf)) {
		c.oob(p, 8)
	}
	binary.LittleEndian.PutUint64(c.buf[p:], v)
}

// PutF32 stores a float32 at p.
func (c *Call) PutF32(p uint32, v float32) { c.PutU32(p, math.Float32bits(v)) }

// PutF64 stores a float64 at p.
func (c *Call) PutF64(p uint32, v float64) { c.PutU64(p, math.Float64bits(v)) }

// Scalars.

// Bool lifts a bool: any nonzero value is true.
func Bool(v uint32) bool { return v != 0 }

// BoolU32 lowers a bool.
func BoolU32(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// Char lifts a char, trapping unless v is a Unicode scalar value.
func (c *Call) Char(v uint32) rune {
	if v >= 0x110000 || (v >= 0xD800 && v < 0xE000) {
		c.Trapf("invalid char %#x", v)
	}
	return rune(v)
}

// CharU32 lowers a char, trapping unless r is a Unicode scalar value (a
// host bug).
func (c *Call) CharU32(r rune) uint32 {
	if r < 0 || r >= 0x110000 || (r >= 0xD800 && r < 0xE000) {
		c.Trapf("host returned invalid char %#x", r)
	}
	return uint32(r)
}

// Disc checks a discriminant against the number of cases n.
func (c *Call) Disc(d, n uint32) uint32 {
	if d >= n {
		c.Trapf("bad discriminant %d for %d cases", d, n)
	}
	return d
}

// Strings and lists.

// Bytes lifts a list<u8> as a view of guest memory, valid only during the
// call.
func (c *Call) Bytes(p, n uint32) []byte {
	if uint64(p)+uint64(n) > uint64(len(c.buf)) {
		c.oob(p, uint64(n))
	}
	return c.buf[p : p+n : p+n]
}

// String lifts a UTF-8 string, copying it.
func (c *Call) String(p, n uint32) string {
	b := c.Bytes(p, n)
	c.liftBudget(uint64(n))
	if !utf8.Valid(b) {
		c.Trapf("invalid UTF-8 in string at %#x (%d bytes)", p, n)
	}
	return string(b)
}

// Realloc allocates size bytes aligned to align in guest memory through the
// guest's cabi_realloc and returns the pointer, refreshing the memory view.
// For an import of a guest that offers a region in its offer slot
// (offer.go), the region is taken without calling cabi_realloc.
func (c *Call) Realloc(size, align uint32) uint32 {
	c.failedReserve()
	inst := c.inst
	if c.realloc == nil {
		if c.lowered {
			c.Trapf("canon lower has no realloc option")
		}
		if c.fn != nil && c.fn.own {
			c.Trapf("canon lift has no realloc option")
		}
		if c.fn != nil {
			c.Trapf("the guest does not export cabi_realloc")
		}
		if inst.realloc == nil {
			inst.realloc = c.mod.ExportedFunction("cabi_realloc")
			if inst.realloc == nil {
				c.Trapf("guest does not export cabi_realloc")
			}
		}
		c.realloc = inst.realloc
	}
	if !c.lowered && c.fn == nil {
		if !inst.slotAsked {
			c.findOfferSlot()
			if c.mem == nil {
				if inst.memory == nil {
					inst.memory = c.mod.Memory()
				}
				c.mem = inst.memory
			}
			if c.mem != nil {
				c.buf, _ = c.mem.Read(0, c.mem.Size())
			}
		}
		if inst.slot != 0 {
			if p, ok := c.takeOffer(size, align); ok {
				return p
			}
		}
	}
	st := inst.stack[:]
	st[0], st[1], st[2], st[3] = 0, 0, uint64(align), uint64(size)
	inst.inRealloc = true
	err := c.realloc.CallWithStack(inst.leaving(c.ctx, false), st)
	inst.inRealloc = false
	if err != nil {
		c.Trapf("cabi_realloc failed: %s", guestFault(err))
	}
	p := uint32(st[0])
	if c.mem == nil && c.mod != nil {
		if inst.memory == nil {
			inst.memory = c.mod.Memory()
		}
		c.mem = inst.memory
	}
	if c.mem != nil {
		c.buf, _ = c.mem.Read(0, c.mem.Size())
	}
	if p&(align-1) != 0 || uint64(p)+uint64(size) > uint64(len(c.buf)) {
		c.Trapf("cabi_realloc returned bad pointer %#x for %d bytes aligned to %d", p, size, align)
	}
	return p
}

// CallRealloc calls realloc, the realloc option of a component's canon
// lift, for size bytes aligned to align in an argument the host lowers
// (package component's Func.Call), as [Call.Realloc] calls cabi_realloc:
// under the Canonical ABI's may-leave rule, so that a host function the
// realloc calls (a lowered import, a resource.drop of an argument the host
// has just moved into the component) traps, naming cabi_realloc, and
// marks the instance trapped. It returns the pointer unchecked.
func (inst *Instance) CallRealloc(ctx context.Context, realloc api.Function, size, align uint32) (uint32, error) {
	prev := inst.inRealloc
	inst.inRealloc = true
	r, err := realloc.Call(inst.leaving(ctx, false), 0, 0, uint64(align), uint64(size))
	inst.inRealloc = prev
	if err != nil {
		return 0, err
	}
	return uint32(r[0]), nil
}

// CallPostReturn calls post, the post-return function of an export, with
// the export's core results, under the Canonical ABI's may-leave rule: a
// host function it calls (a lowered import, a resource built-in) traps,
// naming post-return, and marks the instance trapped (see
// [Instance.MayLeave]). Package component's Func.Call calls it; the
// generated callers' [Call.PostReturn] and [Exports.Leave] do the same.
func (inst *Instance) CallPostReturn(ctx context.Context, post api.Function, results []uint64) error {
	prev := inst.inPostReturn
	inst.inPostReturn = true
	err := post.CallWithStack(inst.leaving(ctx, true), results)
	inst.inPostReturn = prev
	return err
}

// AllocList allocates a list of n elements of size elemSize and alignment
// align, trapping on overflow of the 32-bit address space.
func (c *Call) AllocList(n int, elemSize, align uint32) uint32 {
	size := uint64(n) * uint64(elemSize)
	if size > math.MaxUint32 {
		c.Trapf("host returned a list of %d bytes, more than wasm32 can address", size)
	}
	return c.Realloc(uint32(size), align)
}

// StoreBytes lowers a list<u8>: one cabi_realloc, one copy.
func (c *Call) StoreBytes(b []byte) (p, n uint32) {
	p = c.AllocList(len(b), 1, 1)
	copy(c.buf[p:], b)
	return p, uint32(len(b))
}

// StoreString lowers a string: one cabi_realloc, one copy. The host must
// return valid UTF-8.
func (c *Call) StoreString(s string) (p, n uint32) {
	if !utf8.ValidString(s) {
		c.Trapf("host returned invalid UTF-8 string")
	}
	p = c.AllocList(len(s), 1, 1)
	copy(c.buf[p:], s)
	return p, uint32(len(s))
}

// Handles.

func (c *Call) handleTrap(err error) {
	c.Trapf("%v", err)
}

// Borrow lifts a borrow<R>: the resource stays in the table.
func (c *Call) Borrow(h uint32, typ *ResourceType) Resource {
	v, err := c.table.Get(h, typ)
	if err != nil {
		c.handleTrap(err)
	}
	c.inst.borrowed = append(c.inst.borrowed, h)
	return v
}

// Take lifts an own<R>. The handle leaves the table only when the glue
// calls Commit after every parameter lifted without fault, so a fault in a
// later parameter leaves the table untouched.
func (c *Call) Take(h uint32, typ *ResourceType) Resource {
	v, err := c.table.GetOwned(h, typ)
	if err != nil {
		c.handleTrap(err)
	}
	if !c.inst.addPending(h) {
		c.Trapf("handle %d passed as own twice in one call", h)
	}
	return v
}

// Commit moves the own<R> handles lifted by Take out of the table. A
// handle both lent and moved by one call traps: the Component Model does
// not allow moving a lent handle.
func (c *Call) Commit() {
	inst := c.inst
	if h, ok := inst.lentAndMoved(); ok {
		c.Trapf("handle %d is both borrowed and moved by one call", h)
	}
	for _, h := range inst.pending {
		v, err := c.table.Take(h, nil)
		if err != nil {
			c.handleTrap(err)
		}
		if c.fn != nil {
			// An export's result: the caller's only once the call
			// returns (post-return may yet fail).
			inst.taken = append(inst.taken, v)
		}
	}
	inst.resetPending()
}

// Reserve inserts v, an own<R> inside a result about to be stored in guest
// memory, into the table ahead of the store, so that a fault while storing
// (a failing cabi_realloc, say) cannot leave a host resource outside the
// table, undropped. Glue reserves every own<R> of the result in the order
// the store will reach them; Own then hands out the reserved handles.
//
// A result may hold several own<R>s (a tuple of a socket and its two
// streams, a list of them). Once one cannot be reserved (the table is
// full, the instance closed, the host returned a nil), that one and every
// later one of the result is dropped as it comes, so that none is left to
// the garbage collector holding a connection, and the call traps at the
// result's store (its first Own or Realloc), before the guest sees any of
// it; the handles reserved before stay in the table, which the trapped
// instance's close drops.
func (c *Call) Reserve(v Resource, typ *ResourceType) {
	inst := c.inst
	if inst.reserveErr != nil {
		if v != nil {
			safeDrop(v)
		}
		return
	}
	if v == nil {
		inst.reserveErr = fmt.Errorf("host returned a nil %s", typ)
		return
	}
	h, err := c.table.Insert(typ, v)
	if err != nil {
		if derr := safeDrop(v); derr != nil {
			err = fmt.Errorf("%w (and %w)", err, derr)
		}
		inst.reserveErr = fmt.Errorf("cannot hold another %s: %w", typ, err)
		return
	}
	inst.reserved = append(inst.reserved, h)
}

// failedReserve traps if an own<R> of the result being stored could not
// be reserved (see Reserve).
func (c *Call) failedReserve() {
	if c.inst != nil && c.inst.reserveErr != nil {
		c.Trapf("%v", c.inst.reserveErr)
	}
}

// insert puts v into the table. Past the table's limit, or once the
// instance closed, v is dropped (the guest will never see it) and the call
// traps: no WIT function has an error case for a full table.
func (c *Call) insert(typ *ResourceType, v Resource) uint32 {
	h, err := c.table.Insert(typ, v)
	if err != nil {
		if derr := safeDrop(v); derr != nil {
			err = fmt.Errorf("%w (and %w)", err, derr)
		}
		c.Trapf("cannot hold another %s: %v", typ, err)
	}
	return h
}

// Own lowers an own<R> returned by the host, or passed by it to an
// export ([Call.checkGiven]): v enters the table, unless it was reserved.
func (c *Call) Own(v Resource, typ *ResourceType) uint32 {
	c.failedReserve()
	inst := c.inst
	if inst.nextOwn < len(inst.reserved) {
		h := inst.reserved[inst.nextOwn]
		inst.nextOwn++
		if inst.nextOwn == len(inst.reserved) {
			inst.reserved, inst.nextOwn = inst.reserved[:0], 0
		}
		return h
	}
	if c.fn == nil {
		if v == nil {
			c.Trapf("host returned a nil %s", typ)
		}
		return c.insert(typ, v)
	}
	c.checkGiven(v, typ)
	h := c.insert(typ, v)
	inst.given = append(inst.given, given{h: h})
	return h
}

// Drop implements [resource-drop]: it removes handle h of type typ from the
// table and drops the resource, unless the handle is a borrow the host
// lent the guest (see [Call.Lend]): that only ends the borrow.
func (c *Call) Drop(h uint32, typ *ResourceType) {
	v, err := c.table.Remove(h, typ)
	if err != nil {
		c.handleTrap(err)
	}
	if v != nil {
		v.Drop()
	}
}

// PutBytes lowers the list<u8> b and stores its pointer and length at p.
func (c *Call) PutBytes(p uint32, b []byte) {
	q, n := c.StoreBytes(b)
	c.PutU32(p, q)
	c.PutU32(p+4, n)
}

// PutString lowers the string s and stores its pointer and length at p.
func (c *Call) PutString(p uint32, s string) {
	q, n := c.StoreString(s)
	c.PutU32(p, q)
	c.PutU32(p+4, n)
}
