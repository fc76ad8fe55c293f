package component

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wasitls/wasitls/cabi"
)

// A Handle is a resource the component defines, owned by the Go caller:
// an own<R> result of Func.Call. Pass it back as an own<R> argument (it
// moves into the component and the Handle is spent) or a borrow<R>
// argument (the component sees its representation for the call), and
// Drop it when done: that runs the resource's destructor.
type Handle struct {
	rep  *ownedRep
	inst *Instance
}

// Rep returns the representation the component gave the resource.
func (h *Handle) Rep() uint32 { return h.rep.rep }

// Drop runs the destructor, if any, with ctx (the context of calls into
// the component). A spent or dropped Handle is an error. Drop is a call
// into the instance like Func.Call: while another is in progress it is
// refused with an error wrapping cabi.ErrInstanceBusy, and the Handle
// stays the caller's; after the instance trapped or exited, the
// destructor is not called (the refusal is the error) and after it
// closed, there is nothing to destroy.
func (h *Handle) Drop(ctx context.Context) error {
	if h.rep == nil {
		return fmt.Errorf("component: handle already dropped or moved")
	}
	if ci := h.inst.ci; h.rep.res.dtor != nil {
		if err := ci.Enter("destructor of " + h.rep.res.String()); err != nil {
			if errors.Is(err, cabi.ErrInstanceBusy) {
				return fmt.Errorf("component: %w", err)
			}
			// The instance trapped or exited (its destructor is not
			// entered) or closed (nothing is left to destroy): the
			// Handle is spent.
			h.rep = nil
			if _, exited := ci.Exited(); ci.Trapped() || exited {
				return err
			}
			return nil
		}
		defer ci.Leave()
	}
	rep := h.rep
	h.rep = nil
	rep.ctx = ctx
	err := safeDrop(rep)
	if err != nil {
		// A destructor that trapped may have left the component
		// half-changed, as any export that traps.
		h.inst.halt(err)
	}
	return err
}

func safeDrop(r *ownedRep) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if t, ok := v.(*cabi.Trap); ok {
				err = t
				return
			}
			err = fmt.Errorf("component: %v", v)
		}
	}()
	r.Drop()
	return nil
}

// A HostResource is a resource the host implements, one the component
// imports (such as wasi:io/streams's output-stream), passed to or returned
// from Func.Call: its type, as the generated bindings declare it
// (streams.OutputStreamType), and its value (such as a
// *wasiio.OutputStream).
//
//   - An own<R> argument moves into the component, which owns it from then
//     on and drops it (unless the call fails before the component runs).
//   - A borrow<R> argument is lent for the call: the component uses it and,
//     as the Component Model requires, drops the borrow before it returns;
//     that leaves the resource to the caller. A borrow still held when the
//     call returns is the call's error (the Component Model traps).
//   - An own<R> result is the caller's, who must Drop its Value.
type HostResource struct {
	Type  *cabi.ResourceType
	Value cabi.Resource
}

// hostName is the name the generated bindings give an imported resource's
// type: the interface without its version, a dot, the resource.
func (r *rresource) hostName() string {
	iface, _, _ := strings.Cut(r.iface, "@")
	return iface + "." + r.name
}

// A loan is a borrow<R> argument lent to the component for one call.
type loan struct {
	h   uint32
	res HostResource
}

// endLoans takes back what the call lent, and says which borrows the
// component still held.
func (m *mem) endLoans() error {
	var held []string
	for _, l := range m.loans {
		if m.table.Unlend(l.h, l.res.Value) {
			held = append(held, fmt.Sprintf("borrow<%s> (handle %d)", l.res.Type, l.h))
		}
	}
	m.loans = nil
	if held != nil {
		return fmt.Errorf("the component did not drop %s before it returned", strings.Join(held, ", "))
	}
	return nil
}

// liftOwn takes a handle the component returned out of its table.
func (m *mem) liftOwn(t *rown, h uint32) any {
	table := m.table
	if !t.res.defined {
		typ, err := table.TypeOf(h)
		if err == nil && typ.Name != t.res.hostName() {
			err = fmt.Errorf("handle %d is a %s", h, typ)
		}
		var v cabi.Resource
		if err == nil {
			v, err = table.Take(h, typ)
		}
		if err != nil {
			fail("own<%s> result: %v", t.res, err)
		}
		hr := HostResource{Type: typ, Value: v}
		m.taken = append(m.taken, hr)
		return hr
	}
	v, err := table.Take(h, t.res.typ)
	if err != nil {
		fail("own<%s> result: %v", t.res, err)
	}
	o, ok := v.(*ownedRep)
	if !ok { // one the generated host callers gave the component
		o = &ownedRep{rep: v.(cabi.RepResource).Rep(), res: t.res}
	}
	hd := &Handle{rep: o, inst: m.inst}
	m.taken = append(m.taken, hd)
	return hd
}

// dropTaken drops the own<R> results lifted from a call that then failed
// (a later part of the result could not be lifted, or post-return
// trapped): taken out of the table, they would otherwise belong to no
// one, a host resource (a stream, a connection) never dropped. The
// component trapped, so a resource it defines is dropped without its
// destructor, as when its instance closes.
func (m *mem) dropTaken() {
	for _, v := range m.taken {
		switch v := v.(type) {
		case HostResource:
			func() {
				defer func() { recover() }() // as cabi.Instance.Close
				v.Value.Drop()
			}()
		case *Handle:
			if v.rep != nil {
				v.rep.Drop()
				v.rep = nil
			}
		}
	}
	m.taken = nil
}

// lowerHandle lowers a handle argument into the table of the component
// instance that lifted the function: a *Handle of a resource the
// component defines (own moves it into the table; borrow passes the
// representation to the instance that defines the resource, and lends
// it to another for the call), or a HostResource of one it imports (own
// moves it into the table, borrow lends it for the call).
func (m *mem) lowerHandle(t rtype, v any) uint32 {
	var res *rresource
	switch t := t.(type) {
	case *rown:
		res = t.res
	case *rborrow:
		res = t.res
	}
	if !res.defined {
		return m.lowerHostResource(t, res, v)
	}
	h, ok := v.(*Handle)
	if !ok {
		fail("want a *component.Handle, got %T", v)
	}
	if h.rep == nil {
		fail("handle already dropped or moved")
	}
	if h.inst != m.inst {
		fail("handle of another component instance")
	}
	if h.rep.res != res {
		fail("handle of %s, want %s", h.rep.res, res)
	}
	if _, own := t.(*rown); !own {
		m.lentReps = append(m.lentReps, h.rep)
		if res.owner == m.scope {
			// The Canonical ABI lowers a borrow to the instance that
			// defines the resource as its representation.
			return h.rep.rep
		}
		// Another instance gets a borrowed handle in its own table,
		// which it must drop before it returns.
		n, err := m.table.Lend(res.typ, h.rep)
		if err != nil {
			fail("borrow<%s> argument: %v", res, err)
		}
		m.loans = append(m.loans, loan{n, HostResource{Type: res.typ, Value: h.rep}})
		return n
	}
	if slices.Contains(m.lentReps, h.rep) {
		// The component could destroy it while it is lent.
		fail("own<%s> argument: the call lends it too", res)
	}
	n, err := m.table.Insert(res.typ, h.rep)
	if err != nil {
		fail("own<%s> argument: %v", res, err)
	}
	m.moved = append(m.moved, moved{h: n, handle: h, rep: h.rep})
	h.rep = nil
	return n
}

// A moved is an own<R> argument put into the table for the call.
type moved struct {
	h      uint32
	handle *Handle   // of a resource the component defines, else nil
	rep    *ownedRep // what handle held
}

// unmove takes the own<R> arguments back out of the table when the call
// failed before the component ran: they stay the caller's.
func (m *mem) unmove() {
	for _, mv := range m.moved {
		if _, err := m.table.Take(mv.h, nil); err == nil && mv.handle != nil {
			mv.handle.rep = mv.rep
		}
	}
	m.moved = nil
}

func (m *mem) lowerHostResource(t rtype, res *rresource, v any) uint32 {
	hr, ok := v.(HostResource)
	if !ok {
		fail("want a component.HostResource for %s, got %T", res, v)
	}
	if hr.Type == nil || hr.Value == nil {
		fail("a HostResource for %s without its Type or Value", res)
	}
	if hr.Type.Name != res.hostName() {
		fail("a HostResource of %s, want %s", hr.Type, res.hostName())
	}
	table := m.table
	// The caller cannot give away what it lends in the same call, nor
	// lend what the component holds already (given in this call or
	// before): a component holding a resource as its own and as a
	// borrow could drop it while it is lent, leaving the borrow, and
	// the host functions it is passed to, a resource dropped.
	if _, own := t.(*rown); own {
		if m.inst.ci.Holds(hr.Value) {
			fail("own<%s> argument: the component holds it already", res)
		}
		if m.lends(hr.Value) {
			fail("own<%s> argument: the call lends it too", res)
		}
		n, err := table.Insert(hr.Type, hr.Value)
		if err != nil {
			fail("own<%s> argument: %v", res, err)
		}
		m.moved = append(m.moved, moved{h: n})
		return n
	}
	if m.inst.ci.Holds(hr.Value) {
		fail("borrow<%s> argument: the component holds it as its own", res)
	}
	n, err := table.Lend(hr.Type, hr.Value)
	if err != nil {
		fail("borrow<%s> argument: %v", res, err)
	}
	m.loans = append(m.loans, loan{n, hr})
	return n
}

// lends reports whether the call lends v already.
func (m *mem) lends(v cabi.Resource) bool {
	for _, l := range m.loans {
		if l.res.Value == v {
			return true
		}
	}
	return false
}
