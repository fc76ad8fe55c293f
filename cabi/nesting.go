package cabi

import (
	"errors"
	"fmt"
)

// Nested calls. A host function may call back into the guest: the
// [resource-drop] of a resource the guest implements runs the guest's
// destructor from within the drop, and that destructor may drop another
// of the guest's resources, whose destructor runs one level deeper. Each
// level holds host stack (wazero's host function frames and a call of the
// guest) while the guest holds a single handle, so neither the handle
// limit nor wazero's own stack limit (per call into the guest) bounds the
// depth: unbounded, a guest grew the host's goroutine stack to Go's fatal
// stack overflow. An instance bounds the depth instead: past
// [Instance.SetNestingLimit] levels the host function traps.

// DefaultNestingLimit is how deep calls into the guest may nest inside
// host functions unless [Instance.SetNestingLimit] says otherwise: far
// more than a destructor needs (a chain of 3 million overflowed the
// host's stack).
const DefaultNestingLimit = 1000

// SetNestingLimit sets how deep calls into the guest made from within its
// host calls (destructors run by drops) may nest; n <= 0 means
// DefaultNestingLimit. name is how the limit's trap names the setting.
func (inst *Instance) SetNestingLimit(n int, name string) {
	inst.maxNested, inst.nestedName = n, name
}

// Nest counts a call into the guest that the host function of c is about
// to make (a destructor), trapping when it would nest deeper than the
// limit. Unnest must follow once the call returned.
func (c *Call) Nest() {
	inst := c.inst
	limit, name := inst.maxNested, inst.nestedName
	if limit <= 0 {
		limit = DefaultNestingLimit
	}
	if name == "" {
		name = "cabi.Instance.SetNestingLimit"
	}
	if inst.nested >= limit {
		if inst.onLimit != nil {
			inst.onLimit(inst.nestedName)
		}
		panic(&Trap{Func: c.Func, nested: true, Msg: fmt.Sprintf("calls into the guest nest deeper than %d inside host functions (destructors dropping resources whose destructors drop more); the limit is %s", limit, name)})
	}
	inst.nested++
}

// Unnest ends what Nest counted.
func (c *Call) Unnest() { c.inst.nested-- }

// DestructorTrap returns the trap of the host call fn whose nested call
// of a destructor of the guest, dtor (as the message names it), failed
// with err: the trap err carries when a deeper level made it already
// (passed up as it is, so that a deep nesting costs one message, not one
// wrapping per level), else a new one naming dtor and err.
func DestructorTrap(fn, dtor string, err error) *Trap {
	var t *Trap
	if errors.As(err, &t) && t.nested {
		return t
	}
	return &Trap{Func: fn, Msg: fmt.Sprintf("%s trapped: %v", dtor, err), nested: true}
}
