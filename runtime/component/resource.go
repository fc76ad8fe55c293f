package component

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// definedResource is a resource type the component defines. Its handles
// live in the handle tables of the component instances that hold them
// (the defining one's, or another's it moved them to) as *ownedRep
// values.
func (s *scope) definedResource(t ResourceType) (rtype, error) {
	r := &rresource{defined: true, owner: s, name: fmt.Sprintf("resource#%d", len(s.types))}
	r.typ = cabi.NewResourceType("component " + r.name)
	if t.Dtor != nil {
		f, err := s.coreFunc(*t.Dtor)
		if err != nil {
			return nil, fmt.Errorf("resource destructor: %w", err)
		}
		if !sameSig(f.Definition(), []api.ValueType{api.ValueTypeI32}, nil) {
			return nil, fmt.Errorf("resource destructor has signature %s, want (i32) -> ()",
				sig(f.Definition().ParamTypes(), f.Definition().ResultTypes()))
		}
		r.dtor = f
		mod, name, _ := s.coreFuncExport(*t.Dtor)
		r.newDtor = func() api.Function { return mod.ExportedFunction(name) }
	}
	return r, nil
}

// ownedRep is the table entry of a handle to a resource the component
// defines: its representation. Dropping it runs the destructor.
type ownedRep struct {
	rep  uint32
	res  *rresource
	ctx  context.Context // set for an explicit drop only
	done bool
}

// Rep implements cabi.RepResource.
func (o *ownedRep) Rep() uint32 { return o.rep }

// Drop implements cabi.Resource. The destructor runs only for an explicit
// drop, on the path of a call into the guest (the guest's resource.drop,
// or Handle.Drop with the caller's context): when the instance closes and
// its table is drained, the guest is going away and is not called again,
// from whatever goroutine closes it. A failing destructor traps the call
// that dropped it.
func (o *ownedRep) Drop() {
	if o.done {
		return
	}
	o.done = true
	if o.ctx == nil || o.res.dtor == nil {
		return
	}
	dtor := o.res.dtor
	if o.res.dtorBusy {
		dtor = o.res.newDtor()
	} else {
		o.res.dtorBusy = true
		defer func() { o.res.dtorBusy = false }()
	}
	if _, err := dtor.Call(o.ctx, uint64(o.rep)); err != nil {
		panic(cabi.DestructorTrap("[resource-drop]"+o.res.name, "destructor of "+o.res.String(), err))
	}
}

var i32 = []api.ValueType{api.ValueTypeI32}

func (s *scope) resourceBuiltin(c Canon) (item, error) {
	r, err := s.resource(c.Type)
	if err != nil {
		return item{}, err
	}
	if !r.defined {
		if c.Kind != CanonResourceDrop {
			return item{}, fmt.Errorf("resource.new or resource.rep of imported resource %s", r)
		}
		if r.iface == "" {
			return item{}, fmt.Errorf("resource.drop of a resource that is not imported from an interface")
		}
		hf, err := s.state.linker.Resolve(r.iface, "[resource-drop]"+r.name, i32, nil)
		if err != nil {
			return item{}, err
		}
		lowered := cabi.NewLowered(cabi.Options{Instance: s.state.ci, Table: s.handles()})
		glue := hf.Fn
		fn := api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
			glue(ctx, lowered, stack)
		})
		return item{SortCoreFunc, s.state.addHost(hostFunc{fn: fn, params: hf.Params, results: hf.Results, paramNames: []string{"self"}})}, nil
	}
	if c.Kind != CanonResourceDrop && r.owner != s {
		// The Component Model allows these only in the component that
		// defines the type: another's would forge the owner's handles
		// or read their representations.
		what := "resource.new"
		if c.Kind == CanonResourceRep {
			what = "resource.rep"
		}
		return item{}, fmt.Errorf("%s of %s, defined by another component", what, r)
	}
	lowered := cabi.NewLowered(cabi.Options{Instance: s.state.ci, Table: s.handles()})
	var f hostFunc
	switch c.Kind {
	case CanonResourceNew:
		name := "[resource-new]" + r.name
		f = hostFunc{params: i32, results: i32, paramNames: []string{"rep"}, fn: func(ctx context.Context, _ api.Module, stack []uint64) {
			call := cabi.Begin(ctx, lowered, name)
			defer call.End()
			stack[0] = uint64(call.Own(&ownedRep{rep: uint32(stack[0]), res: r}, r.typ))
		}}
	case CanonResourceRep:
		name := "[resource-rep]" + r.name
		f = hostFunc{params: i32, results: i32, paramNames: []string{"self"}, fn: func(ctx context.Context, _ api.Module, stack []uint64) {
			call := cabi.Begin(ctx, lowered, name)
			defer call.End()
			v := call.Borrow(uint32(stack[0]), r.typ)
			stack[0] = uint64(v.(cabi.RepResource).Rep())
		}}
	case CanonResourceDrop:
		name := "[resource-drop]" + r.name
		f = hostFunc{params: i32, paramNames: []string{"self"}, fn: func(ctx context.Context, _ api.Module, stack []uint64) {
			call := cabi.Begin(ctx, lowered, name)
			defer call.End()
			v := call.Borrow(uint32(stack[0]), r.typ)
			// The destructor runs inside this call: chains of
			// destructors dropping resources nest, up to a limit.
			call.Nest()
			defer call.Unnest()
			o, ok := v.(*ownedRep)
			if !ok {
				// A handle the generated host callers gave the
				// component (cabi.Call.GiveRep): its entry is the
				// host's, the destructor still the component's.
				o = &ownedRep{rep: v.(cabi.RepResource).Rep(), res: r}
				call.Drop(uint32(stack[0]), r.typ)
				o.ctx = ctx
				if err := safeDrop(o); err != nil {
					if t, ok := err.(*cabi.Trap); ok {
						panic(t)
					}
					call.Trapf("%v", err)
				}
				return
			}
			o.ctx = ctx
			call.Drop(uint32(stack[0]), r.typ)
			// A borrow lent for the call only ended: its resource,
			// still the caller's, keeps no context of this call.
			o.ctx = nil
		}}
	}
	return item{SortCoreFunc, s.state.addHost(f)}, nil
}
