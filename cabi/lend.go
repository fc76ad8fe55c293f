package cabi

import (
	"errors"
	"fmt"
)

// Borrows the host lends to an export. A borrow<R> argument of a resource
// the host implements enters the guest's table as a lent handle for the
// call (Table.Lend): the guest may use it and pass it to imports as a
// borrow, and must drop it ([resource-drop]R, which then only ends the
// borrow) before the export returns, as the Canonical ABI requires of a
// callee. A lent handle left in the table when the export returns traps
// the call; whatever happens, the handle leaves the table without dropping
// the resource, which stays the host's: the guest cannot keep it, move it
// or have it dropped by Close.

// lent is one handle lent to the export call in progress.
type lent struct {
	h     uint32
	v     Resource
	table *Table
}

// Lend lowers v as a borrow<R> argument of an export: it enters the table
// as a lent handle until the call returns.
func (c *Call) Lend(v Resource, typ *ResourceType) uint32 {
	if v == nil {
		refuse(c.Func, ErrNilResource, "a nil %s", typ)
	}
	if c.inst.Holds(v) {
		refuse(c.Func, ErrHeld, "a %s the guest holds as its own", typ)
	}
	h, err := c.table.Lend(typ, v)
	if err != nil {
		c.Trapf("cannot lend another %s: %v", typ, err)
	}
	c.inst.lent = append(c.inst.lent, lent{h, v, c.table})
	return h
}

// ErrHeld is wrapped by the refusal of an export call given a resource
// of the host the guest cannot be given: as own<R>, one the guest holds
// already or one the call lends it too, as borrow<R>, one the guest holds
// as its own. The guest could otherwise hold one resource twice and drop
// it twice, or drop it while it is lent, leaving the borrow, and the host
// functions it is passed to, a resource dropped.
var ErrHeld = errors.New("cabi: the guest holds the resource already, or the call lends it")

// checkGiven refuses an own<R> argument of an export the guest cannot be
// given: nil, one it holds already, or one the call lends it.
func (c *Call) checkGiven(v Resource, typ *ResourceType) {
	switch {
	case v == nil:
		refuse(c.Func, ErrNilResource, "a nil %s", typ)
	case c.inst.Holds(v):
		refuse(c.Func, ErrHeld, "a %s the guest holds already", typ)
	}
	for _, l := range c.inst.lent {
		if l.v == v {
			refuse(c.Func, ErrHeld, "a %s the call also lends", typ)
		}
	}
}

// endLends runs when the export returned: every lent handle must be gone.
// Those left are taken back (not dropped) and trap the call.
func (c *Call) endLends() {
	left := 0
	var first uint32
	for _, l := range c.inst.lent {
		if l.table.Unlend(l.h, l.v) {
			if left == 0 {
				first = l.h
			}
			left++
		}
	}
	c.inst.lent = c.inst.lent[:0]
	if left > 0 {
		c.Trapf("borrow handles still remain at the end of the call: %d lent, first handle %d", left, first)
	}
}

// unlend takes back every lent handle of a call that failed.
func (inst *Instance) unlend() {
	for _, l := range inst.lent {
		l.table.Unlend(l.h, l.v)
	}
	inst.lent = inst.lent[:0]
}

// refuse ends an export call before the guest sees it, for a host mistake
// in an argument: the call fails with an error wrapping err, and the
// instance is not marked trapped.
func refuse(fn string, err error, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	panic(&Trap{Func: fn, Msg: msg, refusal: fmt.Errorf("%w: %s", err, msg)})
}
