package component

import "fmt"

// A Component is a parsed component: its definitions in binary order.
type Component struct {
	Defs []Def
}

// A Sort is the kind of an index space.
type Sort uint8

// Sorts. The core sorts come first.
const (
	SortCoreFunc Sort = iota
	SortCoreTable
	SortCoreMemory
	SortCoreGlobal
	SortCoreType
	SortCoreModule
	SortCoreInstance
	SortFunc
	SortValue
	SortType
	SortComponent
	SortInstance
	numSorts
)

var sortNames = [numSorts]string{"core func", "core table", "core memory", "core global", "core type", "core module", "core instance", "func", "value", "type", "component", "instance"}

func (s Sort) String() string {
	if s < numSorts {
		return sortNames[s]
	}
	return fmt.Sprintf("sort(%d)", uint8(s))
}

// A Def is one definition; it appends one item to the index space of its
// Sort (except a core type that is only parsed to be skipped, which still
// counts).
type Def interface {
	Space() Sort
}

// CoreModule is a core module, kept as bytes. Parse gives it a place for
// its rewrite for the stop flag (stop.go), shared by the copies of the
// value, so that the rewrite is made once for every instantiation.
type CoreModule struct {
	Bytes []byte
	stop  *stopModule
}

// CoreInstantiate instantiates core module Module with argument instances.
type CoreInstantiate struct {
	Module uint32
	Args   []CoreArg
}

// A CoreArg names the core instance that satisfies imports from Name.
type CoreArg struct {
	Name     string
	Instance uint32
}

// CoreExports is a core instance made of exports of other items.
type CoreExports struct{ Exports []CoreExport }

// A CoreExport is one export of a CoreExports instance.
type CoreExport struct {
	Name  string
	Sort  Sort // a core sort
	Index uint32
}

// CoreTypeDef is a core type: a function type, or a module type (kept
// opaque).
type CoreTypeDef struct {
	Func *CoreFuncType // nil for a module type
}

// A CoreFuncType is a core function type; value types use the binary codes.
type CoreFuncType struct{ Params, Results []byte }

// Nested is a nested component.
type Nested struct{ Component *Component }

// ComponentInstantiate instantiates component Component with arguments.
type ComponentInstantiate struct {
	Component uint32
	Args      []Arg
}

// An Arg supplies the import Name of an instantiated component.
type Arg struct {
	Name  string
	Sort  Sort
	Index uint32
}

// Exports is a component instance made of exports.
type Exports struct{ Exports []Arg }

// AliasKind is what an alias refers to.
type AliasKind uint8

// Alias kinds.
const (
	AliasExport     AliasKind = iota // an export of a component instance
	AliasCoreExport                  // an export of a core instance
	AliasOuter                       // an item of an enclosing component
)

// Alias is an alias definition of sort Of.
type Alias struct {
	Of       Sort
	Kind     AliasKind
	Instance uint32 // AliasExport, AliasCoreExport
	Name     string // AliasExport, AliasCoreExport
	Count    uint32 // AliasOuter: how many components out
	Index    uint32 // AliasOuter
}

// TypeDef is a component type definition.
type TypeDef struct{ Type Type }

// CanonKind is a canonical built-in.
type CanonKind uint8

// Canonical built-ins of the synchronous subset.
const (
	CanonLift CanonKind = iota
	CanonLower
	CanonResourceNew
	CanonResourceDrop
	CanonResourceRep
)

// Canon is a canonical definition: a lift defines a component function,
// everything else a core function.
type Canon struct {
	Kind CanonKind
	Func uint32 // lift: core func; lower: component func
	Type uint32 // lift: function type; resource built-ins: resource type
	Opts CanonOpts
}

// CanonOpts are the canonical options. Only UTF-8 strings are supported.
type CanonOpts struct {
	Memory, Realloc, PostReturn *uint32
}

// Start is a component start function.
type Start struct {
	Func    uint32
	Args    []uint32
	Results uint32
}

// Import is an import definition.
type Import struct {
	Name string
	Desc ExternDesc
}

// Export is an export definition, which also defines a new item.
type Export struct {
	Name  string
	Sort  Sort
	Index uint32
	Desc  *ExternDesc // an optional type ascription
}

// An ExternDesc describes an import or export: its sort and the index of
// its type (or, for a type, its bound).
type ExternDesc struct {
	Sort        Sort // SortCoreModule, SortFunc, SortValue, SortType, SortComponent, SortInstance
	Type        uint32
	SubResource bool // SortType: (sub resource); otherwise (eq Type)
}

func (CoreModule) Space() Sort           { return SortCoreModule }
func (CoreInstantiate) Space() Sort      { return SortCoreInstance }
func (CoreExports) Space() Sort          { return SortCoreInstance }
func (CoreTypeDef) Space() Sort          { return SortCoreType }
func (Nested) Space() Sort               { return SortComponent }
func (ComponentInstantiate) Space() Sort { return SortInstance }
func (Exports) Space() Sort              { return SortInstance }
func (a Alias) Space() Sort              { return a.Of }
func (TypeDef) Space() Sort              { return SortType }
func (c Canon) Space() Sort {
	if c.Kind == CanonLift {
		return SortFunc
	}
	return SortCoreFunc
}
func (Start) Space() Sort    { return SortValue }
func (i Import) Space() Sort { return i.Desc.Sort }
func (e Export) Space() Sort { return e.Sort }
