package runtime

import (
	"context"
	"fmt"
	"reflect"
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
// VALUE" (cabi.Rethrow); an exit marks it exited. Components bind their
// imports through the Linker, whose implementations are generated glue.

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
// name is the export's, known at Export.
type guardedFunctionBuilder struct {
	wazero.HostFunctionBuilder
	parent *guardedModuleBuilder
	guard  *extGuard
}

func (b *guardedFunctionBuilder) newGuard() *extGuard {
	b.guard = &extGuard{fn: b.parent.module + ".?"}
	return b.guard
}

func (b *guardedFunctionBuilder) WithGoFunction(fn api.GoFunction, params, results []api.ValueType) wazero.HostFunctionBuilder {
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithGoFunction(&guardedGoFunction{b.newGuard(), fn}, params, results)
	return b
}

func (b *guardedFunctionBuilder) WithGoModuleFunction(fn api.GoModuleFunction, params, results []api.ValueType) wazero.HostFunctionBuilder {
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithGoModuleFunction(&guardedGoModuleFunction{b.newGuard(), fn}, params, results)
	return b
}

func (b *guardedFunctionBuilder) WithFunc(fn any) wazero.HostFunctionBuilder {
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithFunc(guardFunc(b.newGuard(), fn))
	return b
}

func (b *guardedFunctionBuilder) WithName(name string) wazero.HostFunctionBuilder {
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithName(name)
	return b
}

func (b *guardedFunctionBuilder) WithParameterNames(names ...string) wazero.HostFunctionBuilder {
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithParameterNames(names...)
	return b
}

func (b *guardedFunctionBuilder) WithResultNames(names ...string) wazero.HostFunctionBuilder {
	b.HostFunctionBuilder = b.HostFunctionBuilder.WithResultNames(names...)
	return b
}

func (b *guardedFunctionBuilder) Export(name string) wazero.HostModuleBuilder {
	if b.guard != nil {
		b.guard.fn = b.parent.module + "." + name
	}
	b.HostFunctionBuilder.Export(name)
	return b.parent
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
	defer f.guard.recover(ctx)
	f.fn.Call(ctx, stack)
}

type guardedGoModuleFunction struct {
	guard *extGuard
	fn    api.GoModuleFunction
}

func (f *guardedGoModuleFunction) Call(ctx context.Context, mod api.Module, stack []uint64) {
	defer f.guard.recover(ctx)
	f.fn.Call(ctx, mod, stack)
}

var contextType = reflect.TypeFor[context.Context]()

// guardFunc is fn, a function for wazero's WithFunc, guarded: a function
// of the same parameters and results, preceded by a context.Context when
// fn takes none (wazero passes one to a function whose first parameter
// is one), which calls fn under g. Anything else but a function wazero
// may take is left to wazero to refuse.
func guardFunc(g *extGuard, fn any) any {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() || v.Type().IsVariadic() {
		return fn
	}
	t := v.Type()
	first := t.NumIn() > 0 && t.In(0).Kind() == reflect.Interface
	if first && t.In(0).Implements(reflect.TypeFor[api.Module]()) {
		return fn // wazero refuses an api.Module first
	}
	withCtx := first && t.In(0).Implements(contextType)
	in := make([]reflect.Type, 0, t.NumIn()+1)
	if !withCtx {
		in = append(in, contextType)
	}
	for i := range t.NumIn() {
		in = append(in, t.In(i))
	}
	out := make([]reflect.Type, t.NumOut())
	for i := range out {
		out[i] = t.Out(i)
	}
	return reflect.MakeFunc(reflect.FuncOf(in, out, false), func(args []reflect.Value) []reflect.Value {
		ctx, _ := args[0].Interface().(context.Context)
		defer g.recover(ctx)
		if !withCtx {
			args = args[1:]
		}
		return v.Call(args)
	}).Interface()
}
