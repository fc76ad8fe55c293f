package component

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// lifted is a component function lifted from a core function, with its
// options resolved.
type lifted struct {
	fn         api.Function
	memory     api.Memory
	realloc    api.Function
	postReturn api.Function
	// table is the handle table of the component instance that lifted
	// it, scope that instance: a call lowers handles into the table and
	// lifts them out of it.
	table *cabi.Table
	scope *scope
}

func (s *scope) canon(c Canon) (item, error) {
	switch c.Kind {
	case CanonLift:
		return s.lift(c)
	case CanonLower:
		return s.lower(c)
	default:
		return s.resourceBuiltin(c)
	}
}

// coreFunc returns core function i as an api.Function.
func (s *scope) coreFunc(i uint32) (api.Function, error) {
	mod, name, err := s.coreFuncExport(i)
	if err != nil {
		return nil, err
	}
	f := mod.ExportedFunction(name)
	if f == nil {
		return nil, fmt.Errorf("core instance has no function %q", name)
	}
	return f, nil
}

// coreFuncExport returns the module and export name of core function i:
// ExportedFunction of them makes another api.Function of it, for a call
// made while one of the first is in progress (wazero's api.Function runs
// one call at a time).
func (s *scope) coreFuncExport(i uint32) (api.Module, string, error) {
	it, ok := s.get(SortCoreFunc, i)
	if !ok {
		return nil, "", fmt.Errorf("core func index %d out of range", i)
	}
	ci := it.v.(coreItem)
	mod, err := s.state.module(ci.inst)
	if err != nil {
		return nil, "", err
	}
	return mod, ci.name, nil
}

func (s *scope) memory(i uint32) (api.Memory, error) {
	it, ok := s.get(SortCoreMemory, i)
	if !ok {
		return nil, fmt.Errorf("core memory index %d out of range", i)
	}
	ci := it.v.(coreItem)
	mod, err := s.state.module(ci.inst)
	if err != nil {
		return nil, err
	}
	m := mod.ExportedMemory(ci.name)
	if m == nil {
		return nil, fmt.Errorf("core instance has no memory %q", ci.name)
	}
	return m, nil
}

func (s *scope) options(o CanonOpts) (mem api.Memory, realloc, post api.Function, err error) {
	if o.Memory != nil {
		if mem, err = s.memory(*o.Memory); err != nil {
			return
		}
	}
	if o.Realloc != nil {
		if realloc, err = s.coreFunc(*o.Realloc); err != nil {
			return
		}
		if !sameSig(realloc.Definition(), reallocParams, reallocResults) {
			err = fmt.Errorf("realloc option has signature %s, want %s", sig(realloc.Definition().ParamTypes(), realloc.Definition().ResultTypes()), sig(reallocParams, reallocResults))
			return
		}
	}
	if o.PostReturn != nil {
		if post, err = s.coreFunc(*o.PostReturn); err != nil {
			return
		}
	}
	return
}

var (
	reallocParams  = []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}
	reallocResults = []api.ValueType{api.ValueTypeI32}
)

func sameSig(d api.FunctionDefinition, params, results []api.ValueType) bool {
	return string(d.ParamTypes()) == string(params) && string(d.ResultTypes()) == string(results)
}

func sig(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return name(params) + " -> " + name(results)
}

// lift defines a component function from a core function.
func (s *scope) lift(c Canon) (item, error) {
	t, err := s.typeAt(c.Type)
	if err != nil {
		return item{}, err
	}
	ft, ok := t.(*rfunc)
	if !ok {
		return item{}, fmt.Errorf("type %d is not a function type", c.Type)
	}
	fn, err := s.coreFunc(c.Func)
	if err != nil {
		return item{}, err
	}
	params, results := liftSignature(ft)
	if !sameSig(fn.Definition(), params, results) {
		return item{}, fmt.Errorf("core function has signature %s, its lifted type needs %s",
			sig(fn.Definition().ParamTypes(), fn.Definition().ResultTypes()), sig(params, results))
	}
	mem, realloc, post, err := s.options(c.Opts)
	if err != nil {
		return item{}, err
	}
	if mem == nil && funcUsesMemory(ft) {
		return item{}, fmt.Errorf("canon lift of a function that passes values in memory has no memory option")
	}
	if post != nil && !sameSig(post.Definition(), results, nil) {
		return item{}, fmt.Errorf("post-return has signature %s, want %s",
			sig(post.Definition().ParamTypes(), post.Definition().ResultTypes()), sig(results, nil))
	}
	return item{SortFunc, &cfunc{typ: ft, lifted: &lifted{fn: fn, memory: mem, realloc: realloc, postReturn: post, table: s.handles(), scope: s}}}, nil
}

func funcUsesMemory(f *rfunc) bool { return sigOf(f).memory }

// lower binds an imported function to the host's generated glue, with the
// memory and realloc of this canon lower.
func (s *scope) lower(c Canon) (item, error) {
	it, ok := s.get(SortFunc, c.Func)
	if !ok {
		return item{}, fmt.Errorf("func index %d out of range", c.Func)
	}
	f := it.v.(*cfunc)
	if f.lifted != nil {
		return item{}, notSupported("lowering a function the component itself lifts (component-to-component calls)")
	}
	if f.iface == "" {
		return item{}, notSupported("importing a bare function %q (only interfaces are served)", f.name)
	}
	mem, realloc, post, err := s.options(c.Opts)
	if err != nil {
		return item{}, err
	}
	if post != nil {
		return item{}, fmt.Errorf("canon lower of %s#%s has a post-return option", f.iface, f.name)
	}
	if mem == nil && funcUsesMemory(f.typ) {
		return item{}, fmt.Errorf("canon lower of %s#%s passes values in memory but has no memory option", f.iface, f.name)
	}
	params, results := lowerSignature(f.typ)
	hf, err := s.state.linker.Resolve(f.iface, f.name, params, results)
	if err != nil {
		return item{}, err
	}
	// The same import lowered again with the same options is the same
	// function: one host function serves them all. Each is one more
	// function of a host module that wazero compiles, at some tens of
	// microseconds a function (a thousand times what its four bytes of
	// canon lower take to read).
	key := lowerKey{iface: f.iface, name: f.name, typ: f.typ, table: s.handles(), memory: s.optionItem(SortCoreMemory, c.Opts.Memory),
		realloc: s.optionItem(SortCoreFunc, c.Opts.Realloc)}
	if low, ok := s.state.lowered[key]; ok {
		return low, nil
	}
	ci := s.state.ci
	lowered := cabi.NewLowered(cabi.Options{Instance: ci, Table: key.table, Memory: mem, Realloc: realloc})
	glue, qual := hf.Fn, f.iface+"#"+f.name
	fn := api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
		// The may-leave rule (no call out of a realloc or a post-return)
		// for every import: the glue of a scalar function has no
		// instance to apply it with.
		ci.MayLeave(qual)
		glue(ctx, lowered, stack)
	})
	low := item{SortCoreFunc, s.state.addHost(hostFunc{fn: fn, params: hf.Params, results: hf.Results, paramNames: hf.ParamNames})}
	if s.state.lowered == nil {
		s.state.lowered = map[lowerKey]item{}
	}
	s.state.lowered[key] = low
	return low, nil
}

// A lowerKey is what a lowered import is made of: the function imported,
// the handle table of the component instance that lowers it, and its
// memory and realloc options (the core items they name, nil for none).
type lowerKey struct {
	iface, name     string
	typ             *rfunc
	table           *cabi.Table
	memory, realloc any
}

// optionItem returns the core item of sort so that option i names, nil
// for none (or none that exists: options refused that already).
func (s *scope) optionItem(so Sort, i *uint32) any {
	if i == nil {
		return nil
	}
	it, _ := s.get(so, *i)
	return it.v
}
