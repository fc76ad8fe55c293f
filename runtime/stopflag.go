package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// NewFastRuntimeConfig returns the wazero configuration for guests
// compiled with [CompileModule]: without wazero's termination checks
// (WithCloseOnContextDone(false)), which call out to Go at every loop
// header of the guest, because the guest checks a global the host sets
// instead, leaving native code once every stopcheck.Period checks (see
// the stopcheck package). A Runtime made on it must declare
// so with Config.StopFlag, so that Instantiate refuses a module that was
// not compiled by CompileModule and could not be stopped.
func NewFastRuntimeConfig() wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().WithCloseOnContextDone(false)
}

// A stoppableModule is a module CompileModule instrumented: only
// CompileModule makes one, so that a module that merely exports the stop
// global's name is not taken for one.
type stoppableModule struct {
	wazero.CompiledModule
}

// CompileModule compiles the core module wasm with the stop global and its
// checks (stopcheck.Instrument) for [Runtime.Instantiate], which arms the
// global when the instance's context is done or the instance is closed:
// the guest then traps within stopcheck.Period loop iterations or tail
// calls and exits with sys.ExitCodeContextCanceled (a call of a reactor's
// export returns the "unreachable" trap). A module with a start section is
// refused: its start function would run before the global can be armed.
//
// The result is for Runtime.Instantiate only, not for wazero's
// InstantiateModule. It runs under any wazero configuration; under
// NewFastRuntimeConfig it is the only kind of module that stops.
func CompileModule(ctx context.Context, r wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	if err := CheckBinary(wasm); err != nil {
		return nil, err
	}
	out, err := stopcheck.Instrument(wasm)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	compiled, err := r.CompileModule(ctx, out)
	if err != nil {
		return nil, err
	}
	return &stoppableModule{compiled}, nil
}

// errNotStoppable is the refusal of a module CompileModule did not
// compile, by a runtime declared to run without wazero's checks.
var errNotStoppable = errors.New("runtime: Config.StopFlag is set (the wazero runtime has no termination checks) " +
	"but the module was not compiled with runtime.CompileModule: it could not be stopped")

// unwrap returns the wazero module of compiled and whether CompileModule
// made it, or an error when the runtime runs only such modules.
func (rt *Runtime) unwrap(compiled wazero.CompiledModule) (wazero.CompiledModule, bool, error) {
	if sm, ok := compiled.(*stoppableModule); ok {
		return sm.CompiledModule, true, nil
	}
	if rt.cfg.StopFlag {
		return nil, false, errNotStoppable
	}
	return compiled, false, nil
}

// armStop makes cancelling ctx set the stop global of mod, and returns the
// function that sets it now.
func armStop(ctx context.Context, mod api.Module) (func(), error) {
	g, ok := mod.ExportedGlobal(stopcheck.GlobalName).(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI32 {
		return nil, fmt.Errorf("runtime: the module has no mutable i32 global %q", stopcheck.GlobalName)
	}
	// A plain store, read by the guest's native code (see the stopcheck
	// package on its visibility); once, since Close and the context's
	// end both set it, from different goroutines.
	var once sync.Once
	stop := func() { once.Do(func() { g.Set(1) }) }
	context.AfterFunc(ctx, stop)
	return stop, nil
}
