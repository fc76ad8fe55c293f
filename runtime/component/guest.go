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

// exportGuest is one exported interface of a component instance seen as a
// cabi.OptionsGuest.
type exportGuest struct {
	funcs map[string]*lifted // by canonical core name
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
	it, ok := inst.exports.exports[iface]
	if !ok {
		return nil, fmt.Errorf("component: no export %q (exports: %s)", iface, strings.Join(inst.Exports(), ", "))
	}
	ci, ok := it.v.(*cinstance)
	if !ok || it.sort != SortInstance {
		return nil, fmt.Errorf("component: export %q is a %s, not an instance", iface, it.sort)
	}
	g := &exportGuest{funcs: map[string]*lifted{}}
	for _, name := range ci.order {
		if f, ok := ci.exports[name].v.(*cfunc); ok && f.lifted != nil {
			g.funcs[iface+"#"+name] = f.lifted
		}
	}
	return g, nil
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
