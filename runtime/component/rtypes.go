package component

import (
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

// Resolved types: a type definition with its index references replaced by
// the types they denote in the scope that defined it, so it keeps its
// meaning wherever it is aliased to.
type (
	rtype   interface{}
	rprim   Prim
	rrecord struct {
		fields []rfield
		layout
	}
	rfield struct {
		name string
		t    rtype
	}
	rvariant struct {
		cases []rfield // t nil for a case without payload
		// types are the cases' types, as variantCases returns them.
		types []rtype
		layout
	}
	rlist  struct{ elem rtype }
	rtuple struct {
		elems []rtype
		layout
	}
	rflags struct {
		n     int
		names []string
	}
	renum struct {
		n     int
		names []string
	}
	roption struct {
		elem rtype
		layout
	}
	rresult struct {
		ok, err rtype
		layout
	}
	rown    struct{ res *rresource }
	rborrow struct{ res *rresource }
	rfunc   struct {
		params []rfield
		result rtype // nil for none
	}
	// rinstance is an instance type: its exports by name (*rfunc, a type,
	// or *rinstance).
	rinstance struct {
		exports map[string]rtype
		order   []string
		bound   bool // bindImport walked it
	}
	// rcomponentType is a component type, kept as declarations.
	rcomponentType struct{ decls []Decl }
)

// An rresource is a resource type: imported (iface and name set when the
// instance type that declares it is imported) or defined by the component.
type rresource struct {
	iface, name string

	defined bool
	// owner is the scope of the component instance whose definition
	// made a defined resource: only it may resource.new and
	// resource.rep the type, and only it is lent a borrow as the
	// representation itself.
	owner *scope
	dtor  api.Function // a defined resource's destructor, or nil
	// dtorBusy is set while dtor runs; a destructor run inside it (one
	// dropping another resource of the type) calls a fresh api.Function
	// of newDtor, since wazero's api.Function is not re-entrant: calling
	// dtor again would overwrite the frames of the call in progress.
	dtorBusy bool
	newDtor  func() api.Function
	typ      *cabi.ResourceType
	bound    bool // typ is a generated one (exportGuest.BindResource)
}

func (r *rresource) String() string {
	if r.bound {
		return r.typ.Name // the generated name, such as test:kitchen/tally.counter
	}
	if r.defined {
		return "resource " + r.name
	}
	return r.iface + "." + r.name
}

// Flattening, per the Canonical ABI: a value type as core value types.
func flatten(t rtype) []api.ValueType {
	var out []api.ValueType
	flattenInto(t, &out)
	return out
}

func flattenInto(t rtype, out *[]api.ValueType) {
	i32, i64, f32, f64 := api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF32, api.ValueTypeF64
	switch t := t.(type) {
	case rprim:
		switch Prim(t) {
		case S64, U64:
			*out = append(*out, i64)
		case F32:
			*out = append(*out, f32)
		case F64:
			*out = append(*out, f64)
		case String:
			*out = append(*out, i32, i32)
		default:
			*out = append(*out, i32)
		}
	case *rlist:
		*out = append(*out, i32, i32)
	case *rrecord:
		for _, f := range t.fields {
			flattenInto(f.t, out)
		}
	case *rtuple:
		for _, e := range t.elems {
			flattenInto(e, out)
		}
	case *rflags, *renum, *rown, *rborrow:
		*out = append(*out, i32)
	case *rvariant, *roption, *rresult:
		flattenVariant(variantCases(t), out)
	}
}

func flattenVariant(cases []rtype, out *[]api.ValueType) {
	var joined []api.ValueType
	for _, c := range cases {
		if c == nil {
			continue
		}
		for i, ft := range flatten(c) {
			if i < len(joined) {
				joined[i] = join(joined[i], ft)
			} else {
				joined = append(joined, ft)
			}
		}
	}
	*out = append(*out, api.ValueTypeI32)
	*out = append(*out, joined...)
}

func join(a, b api.ValueType) api.ValueType {
	if a == b {
		return a
	}
	if (a == api.ValueTypeI32 && b == api.ValueTypeF32) || (a == api.ValueTypeF32 && b == api.ValueTypeI32) {
		return api.ValueTypeI32
	}
	return api.ValueTypeI64
}

// Flattening limits of the Canonical ABI.
const (
	maxFlatParams  = 16
	maxFlatResults = 1
)

// lowerSignature is the core signature of f lowered (canon lower): spilled
// parameters become one pointer, spilled results a pointer parameter.
func lowerSignature(f *rfunc) (params, results []api.ValueType) {
	for _, p := range f.params {
		flattenInto(p.t, &params)
	}
	if len(params) > maxFlatParams {
		params = []api.ValueType{api.ValueTypeI32}
	}
	if f.result != nil {
		results = flatten(f.result)
		if len(results) > maxFlatResults {
			params = append(params, api.ValueTypeI32)
			results = nil
		}
	}
	return params, results
}

// liftSignature is the core signature of the function f lifts (canon
// lift): spilled parameters are one pointer, spilled results a returned
// pointer.
func liftSignature(f *rfunc) (params, results []api.ValueType) {
	for _, p := range f.params {
		flattenInto(p.t, &params)
	}
	if len(params) > maxFlatParams {
		params = []api.ValueType{api.ValueTypeI32}
	}
	if f.result != nil {
		results = flatten(f.result)
		if len(results) > maxFlatResults {
			results = []api.ValueType{api.ValueTypeI32}
		}
	}
	return params, results
}

// usesMemory reports whether lifting or lowering t touches memory.
func usesMemory(t rtype) bool {
	switch t := t.(type) {
	case rprim:
		return Prim(t) == String
	case *rlist:
		return true
	case *rrecord:
		for _, f := range t.fields {
			if usesMemory(f.t) {
				return true
			}
		}
	case *rtuple:
		for _, e := range t.elems {
			if usesMemory(e) {
				return true
			}
		}
	case *rvariant:
		for _, c := range t.cases {
			if c.t != nil && usesMemory(c.t) {
				return true
			}
		}
	case *roption:
		return usesMemory(t.elem)
	case *rresult:
		return (t.ok != nil && usesMemory(t.ok)) || (t.err != nil && usesMemory(t.err))
	}
	return false
}

// borrowOfOther returns a resource defined by a component instance other
// than s that t borrows (a borrow<R> in it), or nil. Such a borrow is
// lowered to s as a handle lent in its table, not as the representation.
func borrowOfOther(t rtype, s *scope) *rresource {
	var walk func(rtype) *rresource
	walk = func(t rtype) *rresource {
		var elems []rtype
		switch t := t.(type) {
		case *rborrow:
			if t.res.defined && t.res.owner != s {
				return t.res
			}
		case *rlist:
			elems = []rtype{t.elem}
		case *roption:
			elems = []rtype{t.elem}
		case *rresult:
			elems = []rtype{t.ok, t.err}
		case *rtuple:
			elems = t.elems
		case *rrecord:
			for _, f := range t.fields {
				elems = append(elems, f.t)
			}
		case *rvariant:
			for _, c := range t.cases {
				elems = append(elems, c.t)
			}
		}
		for _, e := range elems {
			if e == nil {
				continue
			}
			if r := walk(e); r != nil {
				return r
			}
		}
		return nil
	}
	return walk(t)
}
