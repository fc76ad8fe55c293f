package component

import (
	"context"
	"fmt"
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
// the component). A spent or dropped Handle is an error.
func (h *Handle) Drop(ctx context.Context) error {
	if h.rep == nil {
		return fmt.Errorf("component: handle already dropped or moved")
	}
	rep := h.rep
	h.rep = nil
	rep.ctx = ctx
	return safeDrop(rep)
}

func safeDrop(r *ownedRep) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("component: %v", v)
		}
	}()
	r.Drop()
	return nil
}

// liftOwn takes a handle the component returned out of its table.
func (m *mem) liftOwn(t *rown, h uint32) *Handle {
	if !t.res.defined {
		fail("returning an imported resource (%s) to Go is not supported", t.res)
	}
	v, err := m.inst.ci.Table().Take(h, t.res.typ)
	if err != nil {
		fail("own<%s> result: %v", t.res, err)
	}
	return &Handle{rep: v.(*ownedRep), inst: m.inst}
}

// lowerHandle lowers a *Handle argument: own moves it into the table,
// borrow passes the representation (the component defines the resource).
func (m *mem) lowerHandle(t rtype, v any) uint32 {
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
	switch t := t.(type) {
	case *rown:
		if h.rep.res != t.res {
			fail("handle of %s, want %s", h.rep.res, t.res)
		}
		n, err := m.inst.ci.Table().Insert(t.res.typ, h.rep)
		if err != nil {
			fail("own<%s> argument: %v", t.res, err)
		}
		h.rep = nil
		return n
	case *rborrow:
		if h.rep.res != t.res {
			fail("handle of %s, want %s", h.rep.res, t.res)
		}
		if !t.res.defined {
			fail("borrowing an imported resource from Go is not supported")
		}
		return h.rep.rep
	}
	panic("unreachable")
}
