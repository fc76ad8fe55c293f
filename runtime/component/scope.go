package component

import (
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// A scope is the index spaces of one component being instantiated (or of
// one instance type being evaluated), as resolved items.
type scope struct {
	parent *scope
	state  *state

	types       []rtype
	coreModules []*CoreModule
	coreInsts   []*coreInstance
	coreFuncs   []coreItem
	coreTables  []coreItem
	coreMems    []coreItem
	coreGlobals []coreItem
	coreTypes   []*CoreFuncType
	funcs       []*cfunc
	components  []*nested
	instances   []*cinstance

	// args are the arguments of a nested component's instantiation, by
	// import name.
	args map[string]item
	// exports are the component's exports, by name.
	exports *cinstance
	// table is the handle table of the component instance (the
	// Component Model gives each its own): the cabi.Instance's own for
	// the outer component, one made when first needed for a nested one
	// (see handles).
	table *cabi.Table

	// defs are the definitions being run and pos the one running (for
	// the look ahead of seeThrough).
	defs []Def
	pos  int
}

// A coreInstance is a core module instance: a module the loader
// instantiated, a synthetic one, or a batch of canonical built-ins not yet
// instantiated (mod nil until the batch is flushed).
type coreInstance struct {
	mod   api.Module
	batch *hostBatch
	// hosts are the canonical built-ins a core instance of exports
	// re-exports, by export name; shim is set when mod is a
	// wit-component indirect-call shim (see shim.go).
	hosts map[string]hostFunc
	shim  *shim
}

// A coreItem is a core function, table, memory or global: an export of a
// core instance.
type coreItem struct {
	inst *coreInstance
	name string
}

// A cfunc is a component function: imported from the host (iface, name),
// or lifted from a core function.
type cfunc struct {
	typ *rfunc

	iface, name string // imported

	lifted *lifted
}

// A nested component and the scope it was defined in (for outer aliases).
type nested struct {
	c     *Component
	outer *scope
}

// A cinstance is a component instance: its exports by name. An instance
// the host supplies for an import is its type, typ, under the import's
// name, iface: an export's item is made when it is named (export), never
// all at once, so that an instance type exporting two instances of the
// one before, a few bytes a level and 2^n instances expanded, costs the
// host what it is written, not what it expands to.
type cinstance struct {
	exports map[string]item
	order   []string

	iface string
	typ   *rinstance
}

// export returns the export name of ci.
func (ci *cinstance) export(name string) (item, bool) {
	if ci.typ == nil {
		it, ok := ci.exports[name]
		return it, ok
	}
	t, ok := ci.typ.exports[name]
	if !ok {
		return item{}, false
	}
	switch t := t.(type) {
	case *rfunc:
		return item{SortFunc, &cfunc{typ: t, iface: ci.iface, name: name}}, true
	case *rinstance:
		return item{SortInstance, &cinstance{iface: ci.iface, typ: t}}, true
	}
	return item{SortType, t}, true
}

// names returns the names of ci's exports, in order.
func (ci *cinstance) names() []string {
	if ci.typ != nil {
		return ci.typ.order
	}
	return ci.order
}

// add adds an export to ci, an instance the component makes.
func (ci *cinstance) add(name string, it item) {
	if ci.exports == nil {
		ci.exports = map[string]item{}
	}
	if _, dup := ci.exports[name]; !dup {
		ci.order = append(ci.order, name)
	}
	ci.exports[name] = it
}

// An item is one entry of an index space, of any sort.
type item struct {
	sort Sort
	v    any // coreItem, *coreInstance, *CoreModule, *CoreFuncType, *cfunc, rtype, *nested, *cinstance
}

// get returns item i of sort s.
func (s *scope) get(so Sort, i uint32) (item, bool) {
	n := uint64(i)
	var v any
	switch so {
	case SortCoreFunc:
		if n < uint64(len(s.coreFuncs)) {
			v = s.coreFuncs[i]
		}
	case SortCoreTable:
		if n < uint64(len(s.coreTables)) {
			v = s.coreTables[i]
		}
	case SortCoreMemory:
		if n < uint64(len(s.coreMems)) {
			v = s.coreMems[i]
		}
	case SortCoreGlobal:
		if n < uint64(len(s.coreGlobals)) {
			v = s.coreGlobals[i]
		}
	case SortCoreType:
		if n < uint64(len(s.coreTypes)) {
			return item{so, s.coreTypes[i]}, true
		}
	case SortCoreModule:
		if n < uint64(len(s.coreModules)) {
			v = s.coreModules[i]
		}
	case SortCoreInstance:
		if n < uint64(len(s.coreInsts)) {
			v = s.coreInsts[i]
		}
	case SortFunc:
		if n < uint64(len(s.funcs)) {
			v = s.funcs[i]
		}
	case SortType:
		if n < uint64(len(s.types)) {
			return item{so, s.types[i]}, true
		}
	case SortComponent:
		if n < uint64(len(s.components)) {
			v = s.components[i]
		}
	case SortInstance:
		if n < uint64(len(s.instances)) {
			v = s.instances[i]
		}
	}
	return item{so, v}, v != nil
}

// count returns the length of the index space of sort so.
func (s *scope) count(so Sort) int {
	switch so {
	case SortCoreFunc:
		return len(s.coreFuncs)
	case SortCoreTable:
		return len(s.coreTables)
	case SortCoreMemory:
		return len(s.coreMems)
	case SortCoreGlobal:
		return len(s.coreGlobals)
	case SortCoreType:
		return len(s.coreTypes)
	case SortCoreModule:
		return len(s.coreModules)
	case SortCoreInstance:
		return len(s.coreInsts)
	case SortFunc:
		return len(s.funcs)
	case SortType:
		return len(s.types)
	case SortComponent:
		return len(s.components)
	case SortInstance:
		return len(s.instances)
	}
	return 0
}

// push appends an item to the index space of its sort.
func (s *scope) push(it item) {
	switch it.sort {
	case SortCoreFunc:
		s.coreFuncs = append(s.coreFuncs, it.v.(coreItem))
	case SortCoreTable:
		s.coreTables = append(s.coreTables, it.v.(coreItem))
	case SortCoreMemory:
		s.coreMems = append(s.coreMems, it.v.(coreItem))
	case SortCoreGlobal:
		s.coreGlobals = append(s.coreGlobals, it.v.(coreItem))
	case SortCoreType:
		ft, _ := it.v.(*CoreFuncType)
		s.coreTypes = append(s.coreTypes, ft)
	case SortCoreModule:
		s.coreModules = append(s.coreModules, it.v.(*CoreModule))
	case SortCoreInstance:
		s.coreInsts = append(s.coreInsts, it.v.(*coreInstance))
	case SortFunc:
		s.funcs = append(s.funcs, it.v.(*cfunc))
	case SortType:
		s.types = append(s.types, it.v)
	case SortComponent:
		s.components = append(s.components, it.v.(*nested))
	case SortInstance:
		s.instances = append(s.instances, it.v.(*cinstance))
	}
}

// handles returns the handle table of the component instance s runs:
// what its lowered imports, lifted exports and resource built-ins put
// handles in and find them in. A nested component instance gets a table
// of its own (cabi.Instance.NewTable, under the instance's one limit)
// when it first needs one: the nested components wit-component makes to
// give an export its type only import and re-export functions, and make
// none.
func (s *scope) handles() *cabi.Table {
	if s.table == nil {
		s.table = s.state.ci.NewTable()
	}
	return s.table
}
