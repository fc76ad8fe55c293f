package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// NewFastRuntimeConfig returns the wazero configuration to run guests
// under, compiled with [CompileModule]: without wazero's termination checks
// (WithCloseOnContextDone(false)), which call out to Go at every loop
// header of the guest, because the guest checks a global the host sets
// instead, leaving native code once every stopcheck.Period checks (see
// the stopcheck package). A Runtime made on it must declare
// so with Config.StopFlag, so that Instantiate refuses a module that was
// not compiled by CompileModule and could not be stopped.
//
// It is wazero's default configuration (wazero.NewRuntime,
// wazero.NewRuntimeConfig()) with that default stated: a runtime a
// program already made so, or with more settings of its own (a
// compilation cache, say) and the checks left off, serves as it is.
func NewFastRuntimeConfig() wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().WithCloseOnContextDone(false)
}

// A stoppableModule is a module CompileModule instrumented: only
// CompileModule makes one, so that a module that merely exports the stop
// global's name is not taken for one.
type stoppableModule struct {
	wazero.CompiledModule
	tables uint64         // the entries its tables may hold together
	r      wazero.Runtime // the runtime that compiled it
}

// CompileModule compiles the core module wasm with the stop global and its
// checks (stopcheck.Instrument) for [Runtime.Instantiate], which arms the
// global when the instance's context is done or the instance is closed:
// the guest then traps within stopcheck.Period loop iterations or tail
// calls and exits with sys.ExitCodeContextCanceled (a call of a reactor's
// export returns an error wrapping [ErrStopped]). A start section's function is exported
// instead (stopcheck.StartName), and Instantiate runs it once the global
// is armed, after ModuleConfig.Started and before _initialize or _start.
//
// The result is for Runtime.Instantiate only: wazero's InstantiateModule
// panics on it ("interface conversion: wazero.CompiledModule is
// *runtime.stoppableModule"), as on CompileModuleChecked's; and for a
// Runtime over r, or over a wazero runtime sharing r's compilation cache
// (another refuses it, saying so). It runs under
// any wazero configuration; under
// NewFastRuntimeConfig it is the only kind of module that stops.
//
// The module's tables are bounded by the default Limits.TableEntries: it
// is CompileModuleLimits with the zero Limits.
func CompileModule(ctx context.Context, r wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	return CompileModuleLimits(ctx, r, wasm, Limits{})
}

// CompileModuleLimits is CompileModule, with the tables the module defines
// bounded by lim.TableEntries (see Limits): pass the limits the guest
// runs under, Config.Limits with ModuleConfig.Limits over them, for
// Instantiate refuses a module compiled for a larger bound than the
// guest's. The other fields of lim are applied by Instantiate.
func CompileModuleLimits(ctx context.Context, r wazero.Runtime, wasm []byte, lim Limits) (wazero.CompiledModule, error) {
	compiled, tables, err := compileRewritten(ctx, r, wasm, lim, "stop", stopcheck.InstrumentWith)
	if err != nil {
		return nil, err
	}
	return &stoppableModule{compiled, tables, r}, nil
}

// errNotStoppable is the refusal of a module CompileModule did not
// compile, by a runtime declared to run without wazero's checks.
var errNotStoppable = errors.New("runtime: Config.StopFlag is set (the wazero runtime has no termination checks) " +
	"but the module was not compiled with runtime.CompileModule: it could not be stopped; " +
	"compile it with runtime.CompileModule(ctx, r, wasm), not wazero's CompileModule " +
	"(or runtime.CompileModuleChecked, which is for a runtime with wazero's termination checks and StopFlag unset)")

// A rewritten is what the compile path (CompileModuleLimits,
// CompileModuleChecked, none) made of a module.
type rewritten struct {
	stop   bool           // the stop flag and the stack budget (CompileModuleLimits)
	stack  bool           // the stack budget (both)
	tables uint64         // the entries its tables may hold together; zero when unknown
	r      wazero.Runtime // the runtime that compiled it; nil when unknown
}

// unwrap returns the wazero module of compiled and what rewrote it (the
// zero rewritten: compiled straight with wazero), or an error when the
// runtime runs only modules CompileModule made.
func (rt *Runtime) unwrap(compiled wazero.CompiledModule) (wazero.CompiledModule, rewritten, error) {
	switch m := compiled.(type) {
	case *stoppableModule:
		return m.CompiledModule, rewritten{true, true, m.tables, m.r}, nil
	case *cappedModule:
		if rt.cfg.StopFlag {
			return nil, rewritten{}, errNotStoppable
		}
		return m.CompiledModule, rewritten{false, true, m.tables, m.r}, nil
	}
	if rt.cfg.StopFlag {
		return nil, rewritten{}, errNotStoppable
	}
	return compiled, rewritten{}, nil
}

// ErrStopped is what a call into a guest compiled with [CompileModule]
// returns, wrapped with the reason, when the guest was stopped: its
// instance's context ended (context.Canceled, context.DeadlineExceeded or
// the context's cause) or the instance was closed ([ErrClosed]). The
// calls that report it are Instantiate's call of _initialize,
// [Instance.Call] and the generated callers (as a *cabi.Trap whose Unwrap
// is this error); a call straight through wazero's api.Function reports
// the stop check's bare "unreachable" trap, which [Instance.CallError]
// turns into this error.
var ErrStopped = errors.New("runtime: the guest was stopped")

// ErrClosed is wrapped by the error of every call into an instance that
// was closed ([Instance.Close], [ComponentInstance.Close]), whichever way
// it is made: refused before the guest saw it (Instance.Call,
// Instance.CallError, the generated callers, a component's exports, Run),
// or, with [ErrStopped], stopped midway by the Close. It is
// [cabi.ErrClosed].
var ErrClosed = cabi.ErrClosed

// armStop makes the end of ctx set the stop global of mod, and returns
// the function that sets it now (see stopper). It also sets the stack
// budget of mod to stack bytes (see armStack) and returns its global.
func armStop(ctx context.Context, mod api.Module, ci *cabi.Instance, stack int64) (func(reason error), api.MutableGlobal, error) {
	g, err := stopcheck.Global(mod)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: %w", err)
	}
	sg, err := armStack(mod, ci, stack)
	if err != nil {
		return nil, nil, err
	}
	// A plain store, read by the guest's native code (see the stopcheck
	// package on its visibility).
	return stopper(ctx, ci, func() { g.Set(1) }), sg, nil
}

// armStack sets the stack budget global of mod (see stopcheck, "The
// stack budget") to bytes, and tells ci how to see that it ran out, so
// that the budget's trap is reported as such (cabi.ErrStackExceeded).
func armStack(mod api.Module, ci *cabi.Instance, bytes int64) (api.MutableGlobal, error) {
	g, err := stopcheck.StackGlobal(mod)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	g.Set(stopcheck.StackUnits(bytes))
	ci.SetStackBudget(func() bool { return stopcheck.StackExceeded(g) }, bytes, stackLimitName)
	return g, nil
}

// stopper returns the function that stops a guest for a reason, once
// (Close and the end of ctx both call it, from different goroutines): it
// records why in ci, so that the trap the guest's stop check raises is
// reported as the stop, then calls set. The end of ctx calls it with the
// context's cause.
func stopper(ctx context.Context, ci *cabi.Instance, set func()) func(reason error) {
	var once sync.Once
	stop := func(reason error) {
		once.Do(func() {
			ci.SetStopped(fmt.Errorf("%w: %w", ErrStopped, reason))
			set()
		})
	}
	context.AfterFunc(ctx, func() { stop(context.Cause(ctx)) })
	return stop
}

// CallError classifies err, the error of a call into the guest's exports
// with inst.Context(): nil for an exit with code 0, the guest's
// *sys.ExitError for another exit, an error wrapping ErrStopped and the
// reason when the runtime stopped the guest (see CompileModule), and err
// itself otherwise (a trap of the guest's own).
//
// A call made when the instance was closed, before or while it ran (wazero
// reports a closed module as an exit with sys.ExitCodeContextCanceled,
// which cannot tell the two apart), returns an error wrapping ErrStopped
// and ErrClosed; one into a closed instance whose guest had exited, an
// error wrapping ErrClosed, cabi.ErrExited and the *sys.ExitError.
func (inst *Instance) CallError(err error) error {
	if err == nil {
		return nil
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) && inst.closedOutside() {
		// wazero closed the module under the call (its runtime's
		// Close): the exit it reports, code 0 for that close, is the
		// stop.
		if stop := inst.cabi.Stopped(); errors.Is(stop, ErrClosed) {
			return stop
		}
		return errClosedStop
	}
	if errors.As(err, &ee) && inst.closed() {
		if code := ee.ExitCode(); code != sys.ExitCodeContextCanceled {
			// The guest exited, then the instance was closed.
			return &closedExit{ee}
		}
		if stop := inst.cabi.Stopped(); errors.Is(stop, ErrClosed) {
			return stop
		}
		return errClosedStop
	}
	return inst.stopError(inst.state.exitError(err))
}

// A closedExit is the error of a call through wazero into an instance
// whose guest exited and that was then closed: it wraps ErrClosed,
// cabi.ErrExited and the guest's *sys.ExitError.
type closedExit struct{ exit *sys.ExitError }

func (e *closedExit) Error() string {
	return fmt.Sprintf("runtime: instance is closed (its guest had exited with code %d): make a new instance", e.exit.ExitCode())
}

func (e *closedExit) Unwrap() []error { return []error{ErrClosed, cabi.ErrExited, e.exit} }

// errClosedStop is the stop of a guest by Close, as the stop flag's is
// reported, for a guest stopped otherwise (blocked in a host call, or
// called after Close).
var errClosedStop = fmt.Errorf("%w: %w", ErrStopped, ErrClosed)

// closed reports whether the instance was closed.
func (inst *Instance) closed() bool {
	inst.runMu.Lock()
	defer inst.runMu.Unlock()
	return inst.closing
}

// closedOutside reports whether wazero closed the module, not the
// runtime (see closeWatch), before the guest exited.
func (inst *Instance) closedOutside() bool {
	return inst.state.closedOutside.Load() && !inst.state.hasExited()
}

// exited reports whether err, the error of a call into the guest, ended
// in the guest's exit, and its code: an exit through wasi:cli (which wins
// over the trap that carried it) or a *sys.ExitError, such as
// wasi_snapshot_preview1's proc_exit.
func (inst *Instance) exited(err error) (uint32, bool) {
	st := inst.state
	st.mu.Lock()
	exited, code := st.exited, st.exitCode
	st.mu.Unlock()
	if exited {
		return code, true
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) && !inst.closedOutside() {
		return ee.ExitCode(), true
	}
	return 0, false
}

// stopError is err, the error of a call into the guest, or the stop when
// the runtime stopped the guest and err is not an exit.
func (g *Guest) stopError(err error) error { return g.cabi.StopError(err) }

// Call calls the guest's export name with params and inst.Context(), and
// returns its results, or the error as [Instance.CallError] classifies it,
// except an exit: a call in which the guest exited (wasi:cli/exit, or
// wasi_snapshot_preview1's proc_exit) returns the guest's *sys.ExitError,
// code 0 included, since the export returned no results. The exit closed
// the module, unwound mid-call: every later Call is refused at once with
// an error wrapping cabi.ErrExited that names the code (the generated
// callers refuse theirs the same way). The guest's resources stay held
// until Close. A call the runtime stopped marks the instance trapped
// (later Calls wrap cabi.ErrTrapped, as do those into an instance a
// generated caller's or a host function's trap marked), and a Call after
// Close wraps ErrClosed, as through the generated callers. A trap of the
// guest's own leaves the module callable, with the whole stack budget.
func (inst *Instance) Call(name string, params ...uint64) ([]uint64, error) {
	// An instance that exited, trapped (a generated caller's trap, a
	// stop) or was closed is not entered again: the refusal wraps
	// cabi.ErrExited, cabi.ErrTrapped or ErrClosed, as the generated
	// callers' and a component's do.
	if err := inst.cabi.Refusal(name); err != nil {
		return nil, err
	}
	f := inst.mod.ExportedFunction(name)
	if f == nil {
		return nil, fmt.Errorf("runtime: the guest exports no function %q", name)
	}
	// The outermost call starts with the whole stack budget: a call that
	// trapped left the frames it unwound counted.
	if inst.calls == 0 && inst.stack != nil {
		inst.stack.Set(stopcheck.StackUnits(inst.limits.Stack))
	}
	inst.calls++
	res, err := inst.call(inst.ctx, f, params...)
	inst.calls--
	if err != nil {
		if code, exited := inst.exited(err); exited {
			inst.cabi.MarkExited(code) // the context's end marks it trapped instead
			if code, ok := inst.cabi.Exited(); ok {
				return nil, sys.NewExitError(code)
			}
		}
		err = inst.CallError(err)
		if errors.Is(err, ErrStopped) && inst.calls == 0 {
			// Stopped midway, as the end of the context stops a guest
			// blocked in a host call: later calls are refused with
			// cabi.ErrTrapped, as through the generated callers. (A
			// trap of the guest's own leaves a core module callable.)
			inst.cabi.MarkTrapped()
		}
		return nil, err
	}
	return res, nil
}
