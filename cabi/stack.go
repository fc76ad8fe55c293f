package cabi

import (
	"errors"
	"fmt"
)

// The stack budget: an embedder whose guest counts its call stack against
// a budget (package runtime's stop flag rewriter, runtime/stopcheck, in a
// global the guest's frames take from and give back, trapping when it
// runs out) tells the instance how to see that it ran out, with
// [Instance.SetStackBudget]. An export call that fails while it has
// reports a *Trap whose Unwrap is an error wrapping [ErrStackExceeded],
// and [Instance.StopError] returns that error, rather than the bare
// "unreachable" the budget's check raised. A stop the embedder recorded
// (SetStopped) takes precedence.

// ErrStackExceeded is wrapped by the error of a call whose guest's call
// stack outgrew its budget.
var ErrStackExceeded = errors.New("guest call stack exceeds its budget")

// A stackBudget is what SetStackBudget recorded.
type stackBudget struct {
	exceeded func() bool
	err      error
	name     string
}

// SetStackBudget records that the guest's call stack is bounded by a
// budget of bytes, the setting called name, and that exceeded reports
// whether it ran out. Call it before the guest runs.
func (inst *Instance) SetStackBudget(exceeded func() bool, bytes int64, name string) {
	inst.stackBudget = &stackBudget{exceeded, fmt.Errorf("%w of %d bytes (%s)", ErrStackExceeded, bytes, name), name}
}

// stackError is the budget's error when the guest's stack ran out of it,
// or nil.
func (inst *Instance) stackError() error {
	if s := inst.stackBudget; s != nil && s.exceeded() {
		if inst.onLimit != nil {
			inst.onLimit(s.name)
		}
		return s.err
	}
	return nil
}
