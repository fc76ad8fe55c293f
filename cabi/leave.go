package cabi

import (
	"context"
	"unsafe"
)

// The may-leave rule for host functions that have no instance to check.
// [Instance.MayLeave] reads the instance's flags, which [Begin] finds in
// the context, and a component's lowered imports hold their instance; but
// the glue of a scalar function (a clock's now, get-random-u64) looks up
// nothing, and neither do an embedder's own host functions, so that a
// core module's cabi_realloc, cabi_offer_slot or post-return function
// could call them where a component's could not. Every call the host
// makes into one of those functions passes, instead of its context, a
// *leaveCtx wrapping it: the host functions the guest calls from there
// receive that very context from wazero, and [MayLeaveCtx] recognises it
// with one type comparison, nothing on a call made anywhere else.

// A leaveCtx is the context of a call into the guest during which the
// guest may not call out: its cabi_realloc (and cabi_offer_slot) when
// post is false, a post-return function when it is true. Made by
// Instance.leaving, never changed afterwards: wazero may read it from
// another goroutine (its termination checks watch ctx.Done()).
type leaveCtx struct {
	context.Context
	inst *Instance
	post bool
}

// MayLeaveCtx applies the Canonical ABI's may-leave rule to a call of the
// host function fn made with ctx, for host functions that look up no
// instance: when ctx is the one the host called the guest's cabi_realloc,
// cabi_offer_slot or post-return function with, the call traps, naming
// fn and which of them it came from, and marks the instance trapped, as
// [Instance.MayLeave] does. Otherwise it costs one comparison. The glue
// of scalar functions calls it first; so do package runtime's guards of
// extension functions.
func MayLeaveCtx(ctx context.Context, fn string) {
	if l, ok := ctx.(*leaveCtx); ok {
		l.inst.leaveTrap(fn, l.post)
	}
}

// leaving returns the context to call the guest's realloc (post false) or
// a post-return function (post true) with, wrapping ctx. The last one of
// each kind is kept and returned again for the same ctx, so that the
// calls of cabi_realloc (one per list or string the host lowers) allocate
// nothing.
func (inst *Instance) leaving(ctx context.Context, post bool) context.Context {
	if l, ok := ctx.(*leaveCtx); ok && l.inst == inst && l.post == post {
		return l
	}
	i := 0
	if post {
		i = 1
	}
	if l := inst.leave[i]; l != nil && sameContext(l.Context, ctx) {
		return l
	}
	l := &leaveCtx{Context: ctx, inst: inst, post: post}
	inst.leave[i] = l
	return l
}

// sameContext reports whether a and b are the same interface value, type
// and data word alike, without comparing the values themselves (which
// panics for a context type that is not comparable). Two different words
// only cost leaving a new leaveCtx.
func sameContext(a, b context.Context) bool {
	return *(*[2]unsafe.Pointer)(unsafe.Pointer(&a)) == *(*[2]unsafe.Pointer)(unsafe.Pointer(&b))
}
