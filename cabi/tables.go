package cabi

import (
	"sync"
	"sync/atomic"
)

// The tables of one instance. A core module has one resource table; a
// component has one per component instance, as the Component Model gives
// each its own: a handle is an index into the table of the instance that
// holds it, so one nested component instance cannot name, use or drop a
// handle another holds. The component loader makes the tables of nested
// component instances with [Instance.NewTable]; the instance's own table
// ([Instance.Table]) is the outer component's. Every table of an instance
// belongs to one group, which the limit ([Table.SetLimit]) holds
// together: the guest holds at most that many handles in all its tables,
// however its components are nested. [Instance.Close] drains every table
// of the group, so each resource still held is dropped exactly once.

// A tableGroup is the tables of one instance and the count their limit
// bounds.
type tableGroup struct {
	// shared is set once the group has more than one table: from then
	// on live counts the handles of every table, and each insert and
	// release updates it. A group of one table (a core module, a
	// component without nested tables, the common case) counts in that
	// table alone, without the atomic updates.
	shared atomic.Bool
	live   atomic.Int64 // live handles in every table of a shared group
	limit  atomic.Int64 // most live handles together; 0 means DefaultHandleLimit

	mu      sync.Mutex   // guards what follows
	name    string       // how the embedder calls the limit, for the error
	onLimit func(string) // called at each insert refused for the limit; may be nil
	tables  []*Table     // every table of the group, the instance's own first
	closed  bool         // the instance closed: its tables are being drained
}

func (g *tableGroup) setLimit(n int, name string) {
	g.limit.Store(int64(max(n, 0)))
	g.mu.Lock()
	g.name = name
	g.mu.Unlock()
}

func (g *tableGroup) limitValue() int {
	if n := g.limit.Load(); n > 0 {
		return int(n)
	}
	return DefaultHandleLimit
}

// reserve counts one more live handle in a table of a shared group and
// reports whether the limit allows it; when it does not, nothing is
// counted. (A table alone in its group checks its own count.)
func (g *tableGroup) reserve() bool {
	if g.live.Add(1) > int64(g.limitValue()) {
		g.live.Add(-1)
		return false
	}
	return true
}

// released counts a handle released in a table of the group.
func (g *tableGroup) released() {
	if g.shared.Load() {
		g.live.Add(-1)
	}
}

// limitError is the error of an insert past the limit: it says what the
// guest holds in every table. It locks each table in turn, so it must be
// called with none held.
func (g *tableGroup) limitError() *LimitError {
	g.mu.Lock()
	name, tables, onLimit := g.name, append([]*Table(nil), g.tables...), g.onLimit
	g.mu.Unlock()
	if onLimit != nil {
		onLimit(name)
	}
	counts := map[*ResourceType]int{}
	live := 0
	for _, t := range tables {
		t.mu.Lock()
		t.countLocked(counts)
		live += t.live
		t.mu.Unlock()
	}
	return &LimitError{Limit: g.limitValue(), Name: name, Held: describeHeld(counts, live)}
}

// snapshot returns the tables of the group; with close set, it also
// marks the group closed, so that a table made later is born drained.
func (g *tableGroup) snapshot(close bool) []*Table {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = g.closed || close
	return append([]*Table(nil), g.tables...)
}

// NewTable returns a new, empty resource table of the instance: the table
// of one nested component instance. It shares the instance's limit (the
// handles of all its tables count together) and is drained by Close with
// the others; made after Close, it refuses handles at once.
func (inst *Instance) NewTable() *Table {
	root := &inst.table
	root.mu.Lock()
	g := root.group()
	if !g.shared.Load() {
		// The group had only the instance's own table, which counted
		// its handles alone: from now on the group counts them all.
		g.live.Store(int64(root.live))
		g.shared.Store(true)
	}
	root.mu.Unlock()
	t := &Table{g: g}
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.drained = g.closed; !t.drained {
		t.init()
	}
	g.tables = append(g.tables, t)
	return t
}

// group returns the group of the instance's tables.
func (inst *Instance) group() *tableGroup {
	root := &inst.table
	root.mu.Lock()
	defer root.mu.Unlock()
	return root.group()
}

// OnLimit sets f, told the name of the limit (as SetLimit,
// SetNestingLimit or SetStackBudget was given it) each time a call of
// the guest is refused or trapped for one: a handle past the tables'
// limit, a nested call past the nesting limit, a call stack past its
// budget. It runs on the goroutine of the call, before its trap; it must
// not call back into the instance. Call it before the guest runs.
func (inst *Instance) OnLimit(f func(name string)) {
	inst.onLimit = f
	g := inst.group()
	g.mu.Lock()
	g.onLimit = f
	g.mu.Unlock()
}

// Handles returns the number of live handles in every table of the
// instance together: the count its limit bounds.
func (inst *Instance) Handles() int {
	root := &inst.table
	root.mu.Lock()
	defer root.mu.Unlock()
	if g := root.group(); g.shared.Load() {
		return int(g.live.Load())
	}
	return root.live
}

// Holds reports whether v is in any table of the instance as a handle a
// guest owns: a resource moved in once must not be moved in again, to
// another component instance's table, or it would be dropped twice.
func (inst *Instance) Holds(v Resource) bool {
	for _, t := range inst.tables(false) {
		if t.Holds(v) {
			return true
		}
	}
	return false
}

// Retype is [Table.Retype] over every table of the instance: a
// component's resource type bound to the generated one keeps the handles
// every component instance holds.
func (inst *Instance) Retype(from, to *ResourceType) int {
	n := 0
	for _, t := range inst.tables(false) {
		n += t.Retype(from, to)
	}
	return n
}

// tables returns every table of the instance, its own first; with close
// set, no table made later accepts handles.
func (inst *Instance) tables(close bool) []*Table {
	return inst.group().snapshot(close)
}
