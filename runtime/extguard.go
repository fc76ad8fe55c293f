package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// An extension's host functions are the embedder's code, called by core
// guests straight through wazero: the generated glue (cabi.Call.End)
// guards those an extension defines from bindings, but one given to
// wazero's builders by hand was not, and wazero recovers its panic into
// an error of the call that leaves the instance callable, in a state the
// host function may have left half-changed. So New hands each
// Extension.Register a wazero.Runtime whose host module builders guard
// every function they are given, as guardPreview1 guards
// wasi_snapshot_preview1's: a panic that is not an exit marks the
// instance trapped and becomes a *cabi.Trap, "MODULE.NAME: host panic:
// VALUE" (cabi.Rethrow); an exit marks it exited. The guard applies the
// Component Model's may-leave rule too (cabi.MayLeaveCtx): a function
// called from the guest's cabi_realloc or a post-return function traps,
// as a component's lowered import would. Components bind their imports
// through the Linker, whose implementations are generated glue.
//
// wasi_snapshot_preview1's functions are left out of the may-leave rule:
// they touch no state of the guest's cabi.Instance, and a Go guest's
// cabi_realloc calls them itself whenever its heap allocation runs the Go
// runtime's scheduler or collector (clock_time_get, poll_oneoff).

// registerGuarded calls ext.Register with r guarded. wazero's own function
// exporters (emscripten's, assemblyscript's, wasi_snapshot_preview1's
// ExportFunctions) take wazero's builder type only: given a guarded one
// they panic with a type assertion, which becomes an error saying so.
func registerGuarded(ctx context.Context, ext Extension, r wazero.Runtime) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if te, ok := v.(*goruntime.TypeAssertionError); ok && strings.Contains(te.Error(), "guardedModuleBuilder") {
				err = fmt.Errorf("%v: the extension gave a host module builder to a wazero function exporter, "+
					"which takes only wazero's own: instantiate that module on the wazero.Runtime before runtime.New "+
					"(its functions are then not guarded against panics)", te)
				return
			}
			panic(v)
		}
	}()
	return ext.Register(ctx, guardedRuntime{r})
}

// guardedRuntime is the wazero.Runtime an extension registers into.
type guardedRuntime struct{ wazero.Runtime }

func (r guardedRuntime) NewHostModuleBuilder(name string) wazero.HostModuleBuilder {
	return &guardedModuleBuilder{HostModuleBuilder: r.Runtime.NewHostModuleBuilder(name), module: name}
}

type guardedModuleBuilder struct {
	wazero.HostModuleBuilder
	module string
}

func (b *guardedModuleBuilder) NewFunctionBuilder() wazero.HostFunctionBuilder {
	return &guardedFunctionBuilder{HostFunctionBuilder: b.HostModuleBuilder.NewFunctionBuilder(), parent: b}
}

// guardedFunctionBuilder guards the function it is given; the guard's
// name is the export's, known at Export. A function given by WithFunc is
// kept until Export, which reads it (parseFunc) with the names given.
type guardedFunctionBuilder struct {
	wazero.HostFunctionBuilder
	parent *guardedModuleBuilder
	guard  *extGuard

	fn                      any // given by WithFunc, if withFunc
	withFunc                bool
	paramNames, resultNames []string
}

func (b *guardedFunctionBuilder) newGuard() *extGuard {
	b.guard = &extGuard{fn: b.parent.module + ".?"}
	return b.guard
}

func (b *guardedFunctionBuilder) WithGoFunction(fn api.GoFunction, params, results []api.ValueType) wazero.HostFunctionBuilder {
	b.fn, b.withFunc = nil, false
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithGoFunction(&guardedGoFunction{b.newGuard(), fn}, params, results)
	return b
}

func (b *guardedFunctionBuilder) WithGoModuleFunction(fn api.GoModuleFunction, params, results []api.ValueType) wazero.HostFunctionBuilder {
	b.fn, b.withFunc = nil, false
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithGoModuleFunction(&guardedGoModuleFunction{b.newGuard(), fn}, params, results)
	return b
}

func (b *guardedFunctionBuilder) WithFunc(fn any) wazero.HostFunctionBuilder {
	b.fn, b.withFunc = fn, true
	return b
}

func (b *guardedFunctionBuilder) WithName(name string) wazero.HostFunctionBuilder {
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithName(name)
	return b
}

func (b *guardedFunctionBuilder) WithParameterNames(names ...string) wazero.HostFunctionBuilder {
	b.paramNames = names
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithParameterNames(names...)
	return b
}

func (b *guardedFunctionBuilder) WithResultNames(names ...string) wazero.HostFunctionBuilder {
	b.resultNames = names
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithResultNames(names...)
	return b
}

func (b *guardedFunctionBuilder) Export(name string) wazero.HostModuleBuilder {
	if b.withFunc {
		b.exportFunc(name)
		return b.parent
	}
	if b.guard != nil {
		b.guard.fn = b.parent.module + "." + name
	}
	b.HostFunctionBuilder.Export(name)
	return b.parent
}

// exportFunc exports the function given by WithFunc, guarded, as an
// api.GoModuleFunction of the value types wazero would give it. wazero
// checks the count of names given only for a function given by WithFunc:
// a function it refuses, or whose names do not fit, is given to it as it
// is, to fail the module with wazero's own error.
func (b *guardedFunctionBuilder) exportFunc(name string) {
	call, params, results, ok := parseFunc(b.fn)
	fits := func(names []string, types []api.ValueType) bool { return len(names) == 0 || len(names) == len(types) }
	if !ok || !fits(b.paramNames, params) || !fits(b.resultNames, results) {
		b.HostFunctionBuilder.WithFunc(b.fn).Export(name)
		return
	}
	guard := &extGuard{fn: b.parent.module + "." + name}
	b.HostFunctionBuilder.WithGoModuleFunction(&guardedGoModuleFunction{guard, call}, params, results).Export(name)
}

// An extGuard turns a panic of one host function into the guest's trap.
type extGuard struct{ fn string } // MODULE.NAME

// recover is deferred around the host function's call.
func (g *extGuard) recover(ctx context.Context) {
	if v := recover(); v != nil {
		cabi.Rethrow(ctx, g.fn, v)
	}
}

type guardedGoFunction struct {
	guard *extGuard
	fn    api.GoFunction
}

func (f *guardedGoFunction) Call(ctx context.Context, stack []uint64) {
	cabi.MayLeaveCtx(ctx, f.guard.fn)
	defer f.guard.recover(ctx)
	f.fn.Call(ctx, stack)
}

type guardedGoModuleFunction struct {
	guard *extGuard
	fn    api.GoModuleFunction
}

func (f *guardedGoModuleFunction) Call(ctx context.Context, mod api.Module, stack []uint64) {
	cabi.MayLeaveCtx(ctx, f.guard.fn)
	defer f.guard.recover(ctx)
	f.fn.Call(ctx, mod, stack)
}
