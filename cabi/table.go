package cabi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
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

// A slot is one handle. The live children of a slot form a doubly linked
// list through their prev and next fields, headed by the parent's
// firstChild, so that releasing a handle costs what it has children, not
// what the table has slots.
type slot struct {
	typ        *ResourceType
	val        Resource
	parent     uint32 // handle of the parent in this table, 0 for none
	firstChild uint32 // first live child, 0 for none
	prev, next uint32 // siblings under the same parent, 0 for none
	children   uint32 // live children in this table
	state      uint8
	// lent marks a borrow the host lends the guest for one call of its
	// export (see Lend): the resource stays the host's, so neither
	// [resource-drop] nor Close drops it, and it cannot be moved.
	lent bool
}

// A Table maps a guest's u32 handles to resources. Handles are nonzero;
// freed handles are reused, most recent first, as the Canonical ABI does.
// One table serves every interface and version alias of one instance: a
// core module's, or one component instance's (a component's nested
// component instances each have their own, [Instance.NewTable]).
//
// Memory follows the handles live: a slot per handle up to the highest
// live one, a free list of released ones below it, and an index from live
// value to handle (how a [Child] finds its parent, and [Table.Holds] a
// value; a value several handles hold stays in it until the last is
// released); once most handles are
// released the table shrinks (see shrink). The table holds at most its
// limit of live handles (see [Table.SetLimit]).
type Table struct {
	mu    sync.Mutex
	slots []slot              // slots[0] is never used: handle 0 is invalid
	free  []uint32            // freed handles
	index map[Resource]uint32 // live value → handle, to find parents
	// again counts the live handles beyond the first that hold one value
	// (a host function may return one value twice, as wasi:cli's
	// get-stdin does), so that the value stays in index, and Holds true,
	// until the last of them is released; nil until a value is held twice.
	again map[Resource]uint32
	live  int
	peak  int // most live handles since the last shrink
	// g is the group of tables the limit holds together: the tables of
	// one guest instance (see [Instance.NewTable]), or this one alone.
	g       *tableGroup
	drained bool // the instance closed: nothing enters any more
}

// DefaultHandleLimit is how many handles a table holds at once unless
// SetLimit says otherwise.
const DefaultHandleLimit = 1 << 18

// A HandleError is a fault on a handle. It is wrapped in a *Trap by the glue.
type HandleError struct {
	Handle uint32
	Msg    string
}

func (e *HandleError) Error() string { return e.Msg }

// A LimitError is returned by Insert when the table is full. The glue turns
// it into a trap: no WIT function has an error case for it.
type LimitError struct {
	Limit int
	// Name is the setting that raises the limit, as the embedder named it.
	Name string
	// Held says what the guest holds, most common resource types first.
	Held string
}

func (e *LimitError) Error() string {
	name := e.Name
	if name == "" {
		name = "cabi.Table.SetLimit"
	}
	return fmt.Sprintf("resource table limit reached: the guest holds %d handles (%s), the most allowed (%s); it must drop resources it no longer uses", e.Limit, e.Held, name)
}

// countLocked adds the live handles of the table to counts, by type.
// Called with t.mu held.
func (t *Table) countLocked(counts map[*ResourceType]int) {
	for i := range t.slots {
		if s := &t.slots[i]; s.state == slotLive {
			counts[s.typ]++
		}
	}
}

// describeHeld describes live handles counted by type, the three most
// common first; live is their total.
func describeHeld(counts map[*ResourceType]int, live int) string {
	types := make([]*ResourceType, 0, len(counts))
	for typ := range counts {
		types = append(types, typ)
	}
	slices.SortFunc(types, func(a, b *ResourceType) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a.String(), b.String())
	})
	var parts []string
	for i, typ := range types {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("%d of %d other types", live-sumCounts(counts, types[:3]), len(types)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%d %s", counts[typ], typ))
	}
	return strings.Join(parts, ", ")
}

func sumCounts(counts map[*ResourceType]int, types []*ResourceType) int {
	n := 0
	for _, typ := range types {
		n += counts[typ]
	}
	return n
}

func (t *Table) init() {
	if t.slots == nil {
		t.slots = make([]slot, 1, 16)
		t.index = make(map[Resource]uint32)
	}
	t.group()
}

// group returns the table's group, making a group of its own for a table
// that has none. Called with t.mu held.
func (t *Table) group() *tableGroup {
	if t.g == nil {
		t.g = &tableGroup{tables: []*Table{t}}
	}
	return t.g
}

// SetLimit sets the most live handles the table holds, together with the
// other tables of its instance ([Instance.NewTable]); n <= 0 means
// DefaultHandleLimit. name is the setting that raises it, quoted by the
// error past it (such as "runtime.Limits.Handles"). Handles already live
// stay when n is below their count; only new ones are refused.
func (t *Table) SetLimit(n int, name string) {
	t.mu.Lock()
	g := t.group()
	t.mu.Unlock()
	g.setLimit(n, name)
}

// Limit returns the most live handles the table holds, together with the
// other tables of its instance.
func (t *Table) Limit() int {
	t.mu.Lock()
	g := t.group()
	t.mu.Unlock()
	return g.limitValue()
}

// Len returns the number of live handles in the table ([Instance.Handles]
// counts those of every table of the instance).
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}

// Retype gives the live handles of type from the type to and returns how
// many there were: a component's resource type bound to the generated one
// (see [ResourceGuest]) keeps the handles the component already holds.
func (t *Table) Retype(from, to *ResourceType) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for i := range t.slots {
		if s := &t.slots[i]; s.state == slotLive && s.typ == from {
			s.typ = to
			n++
		}
	}
	return n
}

// Insert adds v as a resource of type typ and returns its new handle. When
// v is a [Child] whose parent is in the table, the parent gains a child.
// A full table returns a *LimitError and leaves v to the caller.
func (t *Table) Insert(typ *ResourceType, v Resource) (uint32, error) {
	return t.add(typ, v, false)
}

// Lend adds v, a resource the host keeps, as a borrowed handle of type typ
// for the guest to use during one call of its export, and returns the
// handle. Removing it (Remove, drain) never drops v; Take refuses it. It
// has no parent or children: it lives for one call.
func (t *Table) Lend(typ *ResourceType, v Resource) (uint32, error) {
	return t.add(typ, v, true)
}

// add is Insert, or Lend when lent is set.
func (t *Table) add(typ *ResourceType, v Resource, lent bool) (uint32, error) {
	t.mu.Lock()
	if t.drained {
		// The instance closed: a host call still running then must not
		// leave a resource nobody will drop.
		t.mu.Unlock()
		return 0, ErrClosed
	}
	t.init()
	g := t.g
	ok := t.live < g.limitValue() // a table alone in its group
	if g.shared.Load() {
		ok = g.reserve()
	}
	if !ok {
		t.mu.Unlock()
		return 0, g.limitError() // outside t.mu: it counts every table
	}
	defer t.mu.Unlock()
	h := t.allocLocked()
	t.slots[h] = slot{typ: typ, val: v, state: slotLive, lent: lent}
	if !lent {
		if c, ok := v.(Child); ok {
			if p := c.ResourceParent(); p != nil {
				if ph := t.index[p]; ph != 0 {
					t.link(ph, h)
				}
			}
		}
		n := len(t.index)
		t.index[v] = h
		if len(t.index) == n {
			t.holdAgain(v)
		}
	}
	t.live++
	t.peak = max(t.peak, t.live)
	return h, nil
}

// allocLocked returns a free handle, its slot to be filled. Called with
// t.mu held.
func (t *Table) allocLocked() uint32 {
	var h uint32
	for n := len(t.free); n > 0 && h == 0; n-- {
		if f := t.free[n-1]; int(f) < len(t.slots) {
			h = f // else cut off by shrink
		}
		t.free = t.free[:n-1]
	}
	if h == 0 {
		h = uint32(len(t.slots))
		t.slots = append(t.slots, slot{})
	}
	return h
}

// Unlend removes h if it is still the handle Lend made for v, without
// dropping v, and reports whether it was.
func (t *Table) Unlend(h uint32, v Resource) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if int(h) >= len(t.slots) {
		return false
	}
	if s := &t.slots[h]; s.state != slotLive || !s.lent || s.val != v {
		return false
	}
	t.release(h, slotDropped)
	return true
}

// link makes h the first child of p. Called with t.mu held.
func (t *Table) link(p, h uint32) {
	ps, s := &t.slots[p], &t.slots[h]
	s.parent, s.next = p, ps.firstChild
	if ps.firstChild != 0 {
		t.slots[ps.firstChild].prev = h
	}
	ps.firstChild = h
	ps.children++
}

// unlink removes h from its parent's children. Called with t.mu held.
func (t *Table) unlink(h uint32) {
	s := &t.slots[h]
	ps := &t.slots[s.parent]
	if s.prev != 0 {
		t.slots[s.prev].next = s.next
	} else {
		ps.firstChild = s.next
	}
	if s.next != 0 {
		t.slots[s.next].prev = s.prev
	}
	ps.children--
	s.parent, s.prev, s.next = 0, 0, 0
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
// lose their parent link; its parent loses a child. Called with t.mu held;
// it costs O(children of h).
func (t *Table) release(h uint32, state uint8) Resource {
	if t.slots[h].parent != 0 {
		t.unlink(h)
	}
	for c := t.slots[h].firstChild; c != 0; {
		cs := &t.slots[c]
		next := cs.next
		cs.parent, cs.prev, cs.next = 0, 0, 0
		c = next
	}
	s := &t.slots[h]
	v := s.val
	if s.lent {
		v = nil // the host's: never dropped here
	} else if t.again == nil || !t.releaseAgain(v, h) {
		delete(t.index, v)
	}
	*s = slot{state: state}
	t.free = append(t.free, h)
	t.live--
	t.g.released()
	t.shrink()
	return v
}

// holdAgain records that one more live handle holds v, which another held
// already. Called with t.mu held.
func (t *Table) holdAgain(v Resource) {
	if t.again == nil {
		t.again = make(map[Resource]uint32)
	}
	t.again[v]++
}

// releaseAgain records the release of h, a handle of v, when another
// still holds v, and reports whether one did. The index then names no
// handle of v (0): children made from v from here on get no parent in the
// table. Called with t.mu held.
func (t *Table) releaseAgain(v Resource, h uint32) bool {
	n, ok := t.again[v]
	if !ok {
		return false
	}
	if n == 1 {
		delete(t.again, v)
	} else {
		t.again[v] = n - 1
	}
	if t.index[v] == h {
		t.index[v] = 0
	}
	return true
}

// shrinkMin is the size below which a table keeps its memory.
const shrinkMin = 1024

// shrink gives memory back as handles are released, for O(1) amortized:
// the slots after the last live one are cut off, down to shrinkMin (their
// handles in the free list are skipped when popped or filtered out once
// they are most of it; a cut handle is then unknown rather than dropped, a
// trap either way), a slice at a quarter of its capacity
// moves to a smaller one, and the index, a Go map that never shrinks, is
// rebuilt at its live size once the live handles fall below a quarter of
// their peak since the last rebuild. Called with t.mu held.
func (t *Table) shrink() {
	if t.drained {
		return
	}
	n := len(t.slots)
	for n > shrinkMin && t.slots[n-1].state != slotLive {
		n--
	}
	t.slots = t.slots[:n]
	if cap(t.slots) > shrinkMin && len(t.slots) < cap(t.slots)/4 {
		t.slots = append(make([]slot, 0, 2*len(t.slots)), t.slots...)
	}
	if len(t.free) > 2*len(t.slots) {
		// At least half are cut handles: drop them all.
		free := t.free[:0]
		for _, h := range t.free {
			if int(h) < len(t.slots) {
				free = append(free, h)
			}
		}
		clear(t.free[len(free):])
		t.free = free
	}
	if cap(t.free) > shrinkMin && len(t.free) < cap(t.free)/4 {
		t.free = append(make([]uint32, 0, 2*len(t.free)), t.free...)
	}
	if t.peak >= shrinkMin && t.live < t.peak/4 {
		index := make(map[Resource]uint32, t.live)
		for v, h := range t.index {
			index[v] = h
		}
		t.index = index
		t.peak = t.live
	}
}

// Take removes h, a live handle of type typ, and returns its resource: the
// caller now owns it. Children of h stay in the table, detached. A lent
// handle cannot be taken.
func (t *Table) Take(h uint32, typ *ResourceType) (Resource, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.checkOwned(h, typ); err != nil {
		return nil, err
	}
	return t.release(h, slotMoved), nil
}

// TypeOf returns the type of h, a live handle.
func (t *Table) TypeOf(h uint32) (*ResourceType, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.check(h, nil)
	if err != nil {
		return nil, err
	}
	return s.typ, nil
}

// Holds reports whether v is in the table as a handle the guest owns.
func (t *Table) Holds(v Resource) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.index[v]
	return ok
}

// checkOwned is check for a handle about to be moved: a lent one is an
// error. Called with t.mu held.
func (t *Table) checkOwned(h uint32, typ *ResourceType) (*slot, error) {
	s, err := t.check(h, typ)
	if err == nil && s.lent {
		err = &HandleError{h, fmt.Sprintf("handle %d is a borrow the host lent for the call: it cannot be moved", h)}
	}
	return s, err
}

// GetOwned is Get for a handle about to be moved: a lent handle is an
// error.
func (t *Table) GetOwned(h uint32, typ *ResourceType) (Resource, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.checkOwned(h, typ)
	if err != nil {
		return nil, err
	}
	return s.val, nil
}

// Remove removes h, a live handle of type typ without live children, and
// returns its resource for the caller to Drop: nil for a lent handle, whose
// resource the host keeps.
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
// the resources in drop order: the trees of parentless handles from the
// highest handle down, each in post-order. It costs O(live × depth).
func (t *Table) drain() []Resource {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Resource, 0, t.live)
	t.drained = true // no shrink while draining: the loop walks the slots
	for root := len(t.slots) - 1; root > 0 && t.live > 0; root-- {
		if s := &t.slots[root]; s.state != slotLive || s.parent != 0 {
			continue
		}
		for {
			h := uint32(root)
			for t.slots[h].firstChild != 0 {
				h = t.slots[h].firstChild
			}
			if v := t.release(h, slotDropped); v != nil {
				out = append(out, v)
			}
			if h == uint32(root) {
				break
			}
		}
	}
	// Release the memory of a table whose guest is gone.
	t.slots, t.free, t.index, t.again = nil, nil, nil, nil
	return out
}
