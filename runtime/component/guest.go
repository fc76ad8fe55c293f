package component

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// The generated host callers of an exported interface (wit2host's Exports
// types, cabi.Binder) look the interface's functions up in a cabi.Guest
// by their canonical core names: "ns:pkg/iface@v#func", its post-return
// "cabi_post_ns:pkg/iface@v#func". A core module exports them under those
// names. A component exports lifted functions instead, each a core
// function with the options of its `canon lift`; an exportGuest presents
// one exported interface of a component instance under the core names, so
// that the same generated caller calls a component: the lifted core
// function behind its name, the post-return option behind cabi_post_, and
// the memory and realloc options of that lift through
// cabi.OptionsGuest.ExportOptions (never an instance-wide default: a
// component has none). The generated caller then lowers, calls, lifts and
// runs post-return on these core functions as it does on a core module's,
// in the component instance's cabi.Instance, whose trapped state is
// shared with Func.Call.
//
// The resources the interface exports are the component's own: its canon
// resource.new puts their reps in the instance's table under the
// resource's type, which the Binder replaces with the generated one
// (cabi.ResourceGuest; handles already in the table are retyped), so that an own<R> the
// component returns is taken under the generated type, the generated
// handle lends the rep to the component's methods (a borrow of a
// resource its own instance implements), a handle the host passes back as
// own<R> is one the component's resource.rep and resource.drop accept, and
// dropping the generated handle calls the destructor of the resource type
// under the core name <interface>#[dtor]<resource>.

// exportGuest is one exported interface of a component instance seen as a
// cabi.OptionsGuest and a cabi.ResourceGuest.
type exportGuest struct {
	ci        *cabi.Instance
	iface     string
	funcs     map[string]*lifted    // by canonical core name
	types     map[string]*rfunc     // their types, by canonical core name
	resources map[string]*rresource // the component's own, by WIT name
}

// Guest returns the exported interface iface (its export name, such as
// "wasi:http/incoming-handler@0.2.0") of the instance as a
// cabi.OptionsGuest, for the Bind function wit2host generates for the
// interface; bind it with the cabi.Instance the component was instantiated
// with. Functions re-exported from an import are left out (the Binder
// reports them as not exported).
func (inst *Instance) Guest(iface string) (cabi.Guest, error) {
	if inst.exports == nil {
		return nil, errors.New("component: no exports")
	}
	it, ok := inst.exports.export(iface)
	if !ok {
		return nil, fmt.Errorf("component: no export %q (exports: %s)", iface, strings.Join(inst.Exports(), ", "))
	}
	ci, ok := it.v.(*cinstance)
	if !ok || it.sort != SortInstance {
		return nil, fmt.Errorf("component: export %q is a %s, not an instance", iface, it.sort)
	}
	g := &exportGuest{ci: inst.ci, iface: iface, funcs: map[string]*lifted{}, types: map[string]*rfunc{}, resources: map[string]*rresource{}}
	for _, name := range ci.names() {
		ex, _ := ci.export(name)
		switch v := ex.v.(type) {
		case *cfunc:
			if v.lifted != nil {
				for _, p := range v.typ.params {
					if r := borrowOfOther(p.t, v.lifted.scope); r != nil {
						// The generated callers lend such a borrow as
						// its representation, which only the defining
						// instance may be given.
						return nil, notSupported("generated callers of %s#%s, lifted in a component instance that borrows %s, which another defines (call it with Func.Call)", iface, name, r)
					}
				}
				g.funcs[iface+"#"+name] = v.lifted
				g.types[iface+"#"+name] = v.typ
			}
		case *rresource:
			if v.defined {
				g.resources[name] = v
			}
		}
	}
	return g, nil
}

// BindResource makes typ the type of the handles of the component's
// exported resource named resource, retyping the handles of it the table
// holds. A resource is bound to one generated type: binding it to another
// is an error.
func (g *exportGuest) BindResource(iface, resource string, typ *cabi.ResourceType) error {
	r, ok := g.resources[resource]
	if !ok || iface != g.iface {
		return fmt.Errorf("component: %s exports no resource %s", iface, resource)
	}
	switch {
	case r.typ == typ:
		return nil
	case r.bound:
		return fmt.Errorf("component: resource %s of %s is bound to %s already", resource, iface, r.typ)
	case typ == nil:
		return fmt.Errorf("component: resource %s of %s bound to a nil type", resource, iface)
	}
	g.ci.Retype(r.typ, typ) // in every component instance's table
	r.typ, r.bound = typ, true
	return nil
}

// ExportedFunction returns the lifted core function named name, or the
// post-return option of the one named after "cabi_post_", or nil.
func (g *exportGuest) ExportedFunction(name string) api.Function {
	if l, ok := g.funcs[name]; ok {
		return l.fn
	}
	if l, ok := g.funcs[strings.TrimPrefix(name, "cabi_post_")]; ok && strings.HasPrefix(name, "cabi_post_") && l.postReturn != nil {
		return l.postReturn
	}
	if r, ok := g.resources[strings.TrimPrefix(name, g.iface+"#[dtor]")]; ok && strings.HasPrefix(name, g.iface+"#[dtor]") && r.dtor != nil {
		// An api.Function of the caller's own: the destructor it runs
		// may drop a resource of the type, whose destructor then runs
		// in r.dtor (wazero's api.Function is not re-entrant).
		return r.newDtor()
	}
	return nil
}

// ExportType returns the type of the lifted function named name in the
// text form cabi.Binder.Func compares (typeText), naming the interface's
// own resources by their export names.
func (g *exportGuest) ExportType(name string) (string, bool) {
	t, ok := g.types[name]
	if !ok || t == nil {
		return "", false
	}
	names := map[*rresource]string{}
	for n, r := range g.resources {
		names[r] = n
	}
	return funcText(t, names), true
}

// ExportTable returns the handle table of the component instance that
// lifted the export named name (cabi.TableGuest).
func (g *exportGuest) ExportTable(name string) *cabi.Table {
	if l, ok := g.funcs[name]; ok {
		return l.table
	}
	return nil
}

// Memory is nil: each export has the memory of its own lift.
func (g *exportGuest) Memory() api.Memory { return nil }

// ExportOptions returns the memory and realloc options of the lift of
// the export named name.
func (g *exportGuest) ExportOptions(name string) (api.Memory, api.Function) {
	if l, ok := g.funcs[name]; ok {
		return l.memory, l.realloc
	}
	return nil, nil
}
