package cabi

import (
	"errors"

	"github.com/tetratelabs/wazero/sys"
)

// Stopping: an embedder that stops a guest from outside (package runtime
// sets the stop global of a module compiled with its stop flag when the
// instance's context ends or the instance is closed) records why with
// [Instance.SetStopped] before it does. The guest's stop check then traps
// (wasm "unreachable"), and an export call that fails after that reports
// the stop, a *Trap whose Unwrap is the recorded reason, rather than the
// bare trap the check raised. A call that fails while the instance was not
// stopped reports its trap as it is, the guest's own unreachable included.

// stopReason holds the reason SetStopped recorded.
type stopReason struct{ err error }

// SetStopped records err as why the embedder stopped the guest, once: a
// later call keeps the first reason. Call it before stopping the guest,
// from any goroutine.
func (inst *Instance) SetStopped(err error) {
	inst.stopped.CompareAndSwap(nil, &stopReason{err})
}

// Stopped returns the reason SetStopped recorded, or nil.
func (inst *Instance) Stopped() error {
	if r := inst.stopped.Load(); r != nil {
		return r.err
	}
	return nil
}

// StopError is err, the error of a call into the guest, or the recorded
// stop when the embedder stopped the guest and err is not an exit
// (*sys.ExitError), which the guest chose itself.
func (inst *Instance) StopError(err error) error {
	var exit *sys.ExitError
	if err == nil || errors.As(err, &exit) {
		return err
	}
	if stop := inst.Stopped(); stop != nil {
		return stop
	}
	if stack := inst.stackError(); stack != nil {
		return stack
	}
	return err
}

// callTrap is the *Trap of the export call fn that failed with err (what
// says which part: "the guest trapped", "post-return trapped"): the stop,
// when the embedder stopped the guest, or else the trap.
func (inst *Instance) callTrap(fn, what string, err error) *Trap {
	if stop := inst.Stopped(); stop != nil {
		return &Trap{Func: fn, Msg: stop.Error(), stop: stop}
	}
	if stack := inst.stackError(); stack != nil {
		return &Trap{Func: fn, Msg: stack.Error(), stop: stack}
	}
	return &Trap{Func: fn, Msg: what + ": " + guestFault(err)}
}
