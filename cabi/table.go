package cabi

import (
	"fmt"
	"sync"
)

// A Resource is the Go value behind a WIT resource handle. Drop releases it;
// it is called exactly once, by [resource-drop] from the guest, by the host
// that received it as an own<R> parameter, or by [Instance.Close].
//
// Resource values are used as map keys to find parents (see [Child]): they
// must be comparable, which pointers always are.
type Resource interface {
	Drop()
}

// A Child is a Resource that lives inside another one, such as a stream
// returned by a TLS connection. While a child's handle is in the table its
// parent's handle cannot be dropped, and [Instance.Close] drops children
// before their parents.
type Child interface {
	Resource
	// ResourceParent returns the parent resource. The parent counts only
	// when it is itself in the table.
	ResourceParent() Resource
}

// A ResourceType identifies one WIT resource type. Generated packages
// declare one per resource (streams.InputStreamType), shared by every version
// alias, and the table checks handles against it.
type ResourceType struct {
	// Name is the qualified WIT name, such as "wasi:io/streams.input-stream".
	Name string
}

// NewResourceType returns a new resource type named name.
func NewResourceType(name string) *ResourceType { return &ResourceType{Name: name} }

// String returns the WIT name.
func (t *ResourceType) String() string { return t.Name }

// slot states.
const (
	slotFree    uint8 = iota // never used
	slotLive                 // holds a resource
	slotDropped              // dropped; may be reused
	slotMoved                // moved out to the host; may be reused
)

type slot struct {
	typ      *ResourceType
	val      Resource
	parent   uint32 // handle of the parent in this table, 0 for none
	children uint32 // live children in this table
	state    uint8
}

// A Table maps a guest's u32 handles to resources. Handles are nonzero;
// freed handles are reused, most recent first, as the Canonical ABI does.
// One table serves every interface and version alias of one instance.
type Table struct {
	mu    sync.Mutex
	slots []slot         // slots[0] is never used: handle 0 is invalid
	free  []uint32       // freed handles
	index map[any]uint32 // live value → handle, to find parents
	live  int
}

// A HandleError is a fault on a handle. It is wrapped in a *Trap by the glue.
type HandleError struct {
	Handle uint32
	Msg    string
}

func (e *HandleError) Error() string { return e.Msg }

func (t *Table) init() {
	if t.slots == nil {
		t.slots = make([]slot, 1, 16)
		t.index = make(map[any]uint32)
	}
}

// Len returns the number of live handles.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}

// Insert adds v as a resource of type typ and returns its new handle. When
// v is a [Child] whose parent is in the table, the parent gains a child.
func (t *Table) Insert(typ *ResourceType, v Resource) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	var parent uint32
	if c, ok := v.(Child); ok {
		if p := c.ResourceParent(); p != nil {
			if ph, ok := t.index[p]; ok {
				parent = ph
				t.slots[ph].children++
			}
		}
	}
	var h uint32
	if n := len(t.free); n > 0 {
		h = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		h = uint32(len(t.slots))
		t.slots = append(t.slots, slot{})
	}
	t.slots[h] = slot{typ: typ, val: v, parent: parent, state: slotLive}
	t.index[v] = h
	t.live++
	return h
}

// check validates handle h against typ. It must be called with t.mu held.
func (t *Table) check(h uint32, typ *ResourceType) (*slot, error) {
	if h == 0 || int(h) >= len(t.slots) || t.slots[h].state == slotFree {
		return nil, &HandleError{h, fmt.Sprintf("unknown handle %d", h)}
	}
	s := &t.slots[h]
	switch s.state {
	case slotDropped:
		return nil, &HandleError{h, fmt.Sprintf("handle %d was dropped", h)}
	case slotMoved:
		return nil, &HandleError{h, fmt.Sprintf("handle %d was moved out", h)}
	}
	if typ != nil && s.typ != typ {
		return nil, &HandleError{h, fmt.Sprintf("handle %d is a %s, want %s", h, s.typ, typ)}
	}
	return s, nil
}

// Get returns the resource behind h, which must be a live handle of type
// typ (any type when typ is nil).
func (t *Table) Get(h uint32, typ *ResourceType) (Resource, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.check(h, typ)
	if err != nil {
		return nil, err
	}
	return s.val, nil
}

// release frees slot h, which must be live, marking it state. Its children
// lose their parent link; its parent loses a child. Called with t.mu held.
func (t *Table) release(h uint32, state uint8) Resource {
	s := &t.slots[h]
	v := s.val
	if s.parent != 0 {
		t.slots[s.parent].children--
	}
	if s.children != 0 {
		for i := range t.slots {
			if t.slots[i].state == slotLive && t.slots[i].parent == h {
				t.slots[i].parent = 0
			}
		}
	}
	delete(t.index, v)
	*s = slot{state: state}
	t.free = append(t.free, h)
	t.live--
	return v
}

// Take removes h, a live handle of type typ, and returns its resource: the
// caller now owns it. Children of h stay in the table, detached.
func (t *Table) Take(h uint32, typ *ResourceType) (Resource, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.check(h, typ); err != nil {
		return nil, err
	}
	return t.release(h, slotMoved), nil
}

// Remove removes h, a live handle of type typ without live children, and
// returns its resource for the caller to Drop.
func (t *Table) Remove(h uint32, typ *ResourceType) (Resource, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.check(h, typ)
	if err != nil {
		if he := err.(*HandleError); h != 0 && int(h) < len(t.slots) && t.slots[h].state == slotDropped {
			he.Msg = fmt.Sprintf("double drop of handle %d", h)
		}
		return nil, err
	}
	if s.children != 0 {
		return nil, &HandleError{h, fmt.Sprintf("handle %d (%s) has %d live children", h, s.typ, s.children)}
	}
	return t.release(h, slotDropped), nil
}

// drain removes every live handle, children before parents, and returns
// the resources in drop order.
func (t *Table) drain() []Resource {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Resource
	for t.live > 0 {
		progress := false
		for h := len(t.slots) - 1; h > 0; h-- {
			if s := &t.slots[h]; s.state == slotLive && s.children == 0 {
				out = append(out, t.release(uint32(h), slotDropped))
				progress = true
			}
		}
		if !progress { // unreachable: parent links form a forest
			break
		}
	}
	return out
}
