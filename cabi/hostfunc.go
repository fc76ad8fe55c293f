package cabi

import (
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// A HostFunc is one function of a generated interface, ready to be defined
// on a wazero host module: the generated Functions of every binding
// package returns them, and Register defines them all. Linkers that pick
// functions one by one (patch-version resolution, component lowering) use
// them directly.
type HostFunc struct {
	// Name is the WIT function name as imported: "now",
	// "[method]input-stream.read", "[resource-drop]pollable".
	Name string
	// Fn is the glue; its traps name the module it was made for.
	Fn api.GoModuleFunc
	// Params and Results are the core signature.
	Params, Results []api.ValueType
	// ParamNames and ResultNames label them for wazero.
	ParamNames, ResultNames []string
}

// Define exports f on b under f.Name.
func (f HostFunc) Define(b wazero.HostModuleBuilder) {
	b.NewFunctionBuilder().WithGoModuleFunction(f.Fn, f.Params, f.Results).
		WithParameterNames(f.ParamNames...).
		WithResultNames(f.ResultNames...).
		Export(f.Name)
}

// SameSignature reports whether f has exactly the core signature params ->
// results.
func (f HostFunc) SameSignature(params, results []api.ValueType) bool {
	return string(f.Params) == string(params) && string(f.Results) == string(results)
}
