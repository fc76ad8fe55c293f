package cabi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// Resources the guest exports (implements), as a core module does it with
// the canonical names wit-bindgen and wit-component use. The guest makes a
// resource with its import [resource-new]R from the module
// [export]<interface>, giving its representation (rep: a u32 only the
// guest interprets); the rep enters the instance's table under a new own
// handle. An export returning own<R> (a constructor, say) returns that
// handle, and the host lifting it takes it out of the table: the host
// then holds the resource as a [GuestResource].
//
// Passing a GuestResource to an export as own<R> moves it back into the
// table under a new handle (the host's value is spent; the guest finds the
// rep with [resource-rep]R); as borrow<R>, including a method's self, the
// guest gets the rep itself, as the Canonical ABI lowers a borrow to the
// instance implementing the resource. Dropping it ([Exports.DropGuest])
// calls the guest's destructor export <interface>#[dtor]R with the rep.
// When the guest drops an own handle of its own resource with
// [resource-drop]R, the destructor runs as well, from within that call.
// Handles left in the table when the instance closes are forgotten without
// calling the guest: it is going away.

// ErrSpent is wrapped by the error of an export call given a
// GuestResource the host already moved into the guest or dropped: the call
// is refused before the guest sees it, and the instance is not trapped.
var ErrSpent = errors.New("cabi: resource moved to the guest or dropped")

// ErrNilResource is wrapped by the error of an export call given a nil
// resource: refused like ErrSpent.
var ErrNilResource = errors.New("cabi: nil resource")

// A GuestResource is the host's own handle to a resource the guest
// implements: its type and rep. Generated types embed it (one per exported
// resource, with the methods calling the guest). Its methods and Drop
// claim the instance as every generated call does (a call in progress
// refuses them with ErrInstanceBusy), but one GuestResource is not safe
// for concurrent use: two goroutines moving or dropping the same one race
// on it.
type GuestResource struct {
	typ   *ResourceType
	rep   uint32
	spent bool
}

// Rep returns the guest's representation of the resource.
func (g *GuestResource) Rep() uint32 { return g.rep }

// Spent reports whether the host moved the resource into the guest or
// dropped it: it can no longer be passed or dropped.
func (g *GuestResource) Spent() bool { return g.spent }

// A RepResource is the table entry of a handle to a resource the guest
// implements: its rep. The entries [resource-new]R and [Call.GiveRep] make
// are RepResources; a component instance's own entries (its canon
// resource.new) are too, so the generated callers take either.
type RepResource interface {
	Resource
	Rep() uint32
}

// A ResourceGuest is a Guest keeping the handles of the resources it
// implements in the table under resource types of its own: a component
// instance, whose canon resource.new, resource.rep and resource.drop the
// loader builds. The Binder binds each resource of the interface to the
// generated type (BindResource), so that the handles the guest returns
// are found under it, and finds its destructor by the core name
// <interface>#[dtor]<resource> through ExportedFunction.
type ResourceGuest interface {
	Guest
	// BindResource makes typ the type of the handles of the resource
	// named resource (its WIT name) of the interface named iface (its
	// canonical name, such as "test:kitchen/tally@0.1.0").
	BindResource(iface, resource string, typ *ResourceType) error
}

// guestRep is the table entry of a handle to a resource a core module
// implements, or one the host gave a guest.
type guestRep struct{ rep uint32 }

// Rep implements RepResource.
func (r *guestRep) Rep() uint32 { return r.rep }

// Drop implements Resource: the table forgets the handle. The destructor
// runs only on the path of a call into the guest ([resource-drop]R or
// DropGuest), never when the instance closes.
func (*guestRep) Drop() {}

// TakeRep lifts an own<R> of a resource the guest implements, returned by
// the guest: like [Call.Take], the handle leaves the table at Commit.
func (c *Call) TakeRep(h uint32, typ *ResourceType) GuestResource {
	r, ok := c.Take(h, typ).(RepResource)
	if !ok {
		c.Trapf("handle %d is a %s the guest does not implement", h, typ)
	}
	return GuestResource{typ: typ, rep: r.Rep()}
}

// GiveRep lowers g as an own<R> argument of an export: the rep enters the
// table under a new handle, and g is spent.
func (c *Call) GiveRep(g *GuestResource, typ *ResourceType) uint32 {
	c.checkHeld(g, typ)
	for _, l := range c.inst.lentReps {
		if l == (GuestResource{typ: g.typ, rep: g.rep}) {
			// The guest could destroy it while it is lent.
			refuse(c.Func, ErrHeld, "a %s (rep %d) the call also lends", typ, g.rep)
		}
	}
	h := c.insert(typ, &guestRep{g.rep})
	g.spent = true
	c.inst.given = append(c.inst.given, given{h: h, rep: g})
	return h
}

// LendRep lowers g as a borrow<R> argument of an export: the guest gets
// the rep.
func (c *Call) LendRep(g *GuestResource, typ *ResourceType) uint32 {
	c.checkHeld(g, typ)
	c.inst.lentReps = append(c.inst.lentReps, GuestResource{typ: g.typ, rep: g.rep})
	return g.rep
}

// checkHeld refuses the call for a nil, spent or mistyped g.
func (c *Call) checkHeld(g *GuestResource, typ *ResourceType) {
	switch {
	case g == nil || g.typ == nil:
		refuse(c.Func, ErrNilResource, "a nil %s", typ)
	case g.spent:
		refuse(c.Func, ErrSpent, "a %s (rep %d)", typ, g.rep)
	case g.typ != typ:
		c.Trapf("host passed a %s, want %s", g.typ, typ)
	}
}

// DropGuest drops g, the host's handle to a resource the guest
// implements: it calls the destructor dtor, if the guest exports one, with
// the rep. g is spent from then on, even when the destructor fails, whose
// trap is returned and marks the instance trapped like any export's. A
// refused call (the instance trapped, or a call into the instance in
// progress, through any interface or from any goroutine: ErrInstanceBusy)
// leaves g as it was. After the instance closed there is nothing to call:
// DropGuest only spends g.
func (x *Exports) DropGuest(ctx context.Context, g *GuestResource, dtor *ExportFunc) error {
	switch {
	case g == nil || g.typ == nil:
		return fmt.Errorf("%s: %w", dtor.Name, ErrNilResource)
	case g.spent:
		return fmt.Errorf("%s: %w", dtor.Name, ErrSpent)
	case dtor.Fn == nil || x.inst.isClosed():
		g.spent = true
		return nil
	}
	s := x.Enter()
	if s == nil {
		return x.Refusal(dtor)
	}
	g.spent = true
	s[0] = uint64(g.rep)
	return x.Leave(ctx, dtor, dtor.Fn.CallWithStack(ctx, s))
}

// Dtor finds the destructor the guest exports for resource (its WIT name)
// of the interface, <interface>#[dtor]<resource>, which it need not
// export; a wrong signature is an error. typ is the generated type of the
// resource's handles, bound to a [ResourceGuest]'s own.
func (b *Binder) Dtor(resource string, typ *ResourceType) ExportFunc {
	full := b.prefix + "[dtor]" + resource
	ef := ExportFunc{Name: full}
	if rg, ok := b.guest.(ResourceGuest); ok {
		if err := rg.BindResource(strings.TrimSuffix(b.prefix, "#"), resource, typ); err != nil {
			b.errs = append(b.errs, err.Error())
			return ef
		}
	}
	f := b.guest.ExportedFunction(full)
	if f == nil {
		return ef
	}
	if !isDtor(f) {
		d := f.Definition()
		b.errs = append(b.errs, fmt.Sprintf("%s has the core signature %s -> %s, want (i32) -> ()", full, typeList(d.ParamTypes()), typeList(d.ResultTypes())))
		return ef
	}
	ef.Fn = f
	return ef
}

// isDtor reports whether f has a destructor's core signature, (i32) -> ().
func isDtor(f api.Function) bool {
	d := f.Definition()
	return len(d.ParamTypes()) == 1 && d.ParamTypes()[0] == api.ValueTypeI32 && len(d.ResultTypes()) == 0
}

// ResourceFuncs returns the functions a guest implementing resource (its
// WIT name) of type typ imports from module, "[export]<interface>":
// [resource-new], [resource-rep] and [resource-drop], which runs the
// guest's destructor export for an own handle it drops.
func ResourceFuncs(module, resource string, typ *ResourceType) []HostFunc {
	i32 := []api.ValueType{api.ValueTypeI32}
	dtor := strings.TrimPrefix(module, "[export]") + "#[dtor]" + resource
	fn := func(op string, body func(c *Call, mod api.Module, stack []uint64)) HostFunc {
		name := module + "#" + op + resource
		f := HostFunc{Name: op + resource, Params: i32, Fn: func(ctx context.Context, mod api.Module, stack []uint64) {
			call := Begin(ctx, mod, name)
			c := &call
			defer c.End()
			body(c, mod, stack)
		}}
		if op == "[resource-drop]" {
			f.ParamNames = []string{"handle"}
		} else {
			f.Results = i32
			f.ParamNames, f.ResultNames = []string{map[string]string{"[resource-new]": "rep", "[resource-rep]": "handle"}[op]}, []string{"result"}
		}
		return f
	}
	return []HostFunc{
		fn("[resource-new]", func(c *Call, _ api.Module, stack []uint64) {
			stack[0] = uint64(c.insert(typ, &guestRep{uint32(stack[0])}))
		}),
		fn("[resource-rep]", func(c *Call, _ api.Module, stack []uint64) {
			v, err := c.table.Get(uint32(stack[0]), typ)
			if err != nil {
				c.handleTrap(err)
			}
			stack[0] = uint64(v.(RepResource).Rep())
		}),
		fn("[resource-drop]", func(c *Call, mod api.Module, stack []uint64) {
			v, err := c.table.Remove(uint32(stack[0]), typ)
			if err != nil {
				c.handleTrap(err)
			}
			if c.lowered {
				c.Trapf("a component's resources are not dropped through [export] imports")
			}
			if f := mod.ExportedFunction(dtor); f != nil {
				if !isDtor(f) {
					c.Trapf("the destructor %s does not have the core signature (i32) -> ()", dtor)
				}
				stack[0] = uint64(v.(RepResource).Rep())
				c.Nest()
				err := f.CallWithStack(c.ctx, stack[:1])
				c.Unnest()
				if err != nil {
					panic(DestructorTrap(c.Func, "the destructor "+dtor, err))
				}
			}
		}),
	}
}
