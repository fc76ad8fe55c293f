package cabi

import (
	"context"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/sys"
)

// A Trap is a guest fault, or a host implementation failure, detected while
// serving a host function call. The glue panics with a *Trap; wazero turns
// the panic into the error returned by the guest call in progress.
type Trap struct {
	// Func is the fully qualified function, such as
	// "wasi:io/streams@0.2.8#[method]input-stream.read".
	Func string
	// Msg describes the fault.
	Msg string

	// refusal is set for an export call refused before the guest saw it
	// (re-entered, or given a spent handle): an error, not a fault.
	refusal error
	// nested is set for the trap of a nested call (nesting.go), which the
	// levels above pass up as it is.
	nested bool
	// stop is set for the trap of an export call the embedder stopped
	// (Instance.SetStopped): why it stopped the guest; or whose guest's
	// stack outgrew its budget (stack.go): an error wrapping
	// ErrStackExceeded; or of a call refused because the instance
	// trapped before: ErrTrapped; or exited: ErrExited; or closed:
	// ErrClosed.
	stop error
}

// Error implements error.
func (t *Trap) Error() string { return t.Func + ": " + t.Msg }

// Unwrap returns why the embedder stopped the guest, for the trap of an
// export call it stopped ([Instance.SetStopped]), an error wrapping
// [ErrStackExceeded] for one whose guest's stack outgrew its budget,
// [ErrTrapped] for a call refused because the instance trapped before,
// [ErrExited] for one refused because its guest exited, [ErrClosed] for
// one refused because the instance was closed, or nil.
func (t *Trap) Unwrap() error { return t.stop }

// Trapf panics with a *Trap for function fn.
func Trapf(fn, format string, args ...any) {
	panic(&Trap{Func: fn, Msg: fmt.Sprintf(format, args...)})
}

// toTrap converts a recovered panic value into a *Trap for fn.
func toTrap(fn string, r any) *Trap {
	switch v := r.(type) {
	case *Trap:
		return v
	case error:
		return &Trap{Func: fn, Msg: "host panic: " + v.Error()}
	default:
		return &Trap{Func: fn, Msg: fmt.Sprintf("host panic: %v", v)}
	}
}

// markExited marks the instance, or else the one in ctx, if any, as
// exited with the code of exit.
func markExited(ctx context.Context, inst *Instance, exit *sys.ExitError) {
	if inst == nil && ctx != nil {
		inst = InstanceFrom(ctx)
	}
	if inst != nil {
		inst.MarkExited(exit.ExitCode())
	}
}

// markTrapped marks the instance in ctx, if any, as trapped.
func markTrapped(ctx context.Context, inst *Instance) {
	if inst == nil && ctx != nil {
		inst = InstanceFrom(ctx)
	}
	if inst != nil {
		inst.setTrapped()
	}
}

// Rethrow is called by the glue of functions with only scalar parameters
// and results, from a deferred closure that recovered r: it marks the
// instance in ctx, if any, trapped and panics with a *Trap naming fn (or
// for an exit, marks it exited and panics with the *sys.ExitError).
// (An inline closure costs less than deferring a call with arguments.)
func Rethrow(ctx context.Context, fn string, r any) {
	if exit, ok := r.(*sys.ExitError); ok {
		// An exit (wasi:cli/exit) is not a fault, but it unwinds the
		// guest: the instance is not entered again.
		markExited(ctx, nil, exit)
		panic(exit)
	}
	markTrapped(ctx, nil)
	panic(toTrap(fn, r))
}

// guestFault describes err, a failure of a call into the guest, for a trap
// message. A Go guest whose runtime never ran (a command module, or a
// reactor instantiated without running _initialize) aborts in
// runtime.notInitialized on its first call: the message then says how to
// build and start it, since the bare wasm error does not.
func guestFault(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "runtime.notInitialized") {
		return "the Go runtime is not initialized (build the guest with -buildmode=c-shared and instantiate it with " +
			`WithStartFunctions("_initialize")): ` + msg
	}
	return msg
}
