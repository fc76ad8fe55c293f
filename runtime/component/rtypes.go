package component

import (
	"slices"

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
		result rtype    // nil for none
		sig    *funcSig // set when resolved (setLayout)
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
	if l := layoutOf(t); l != nil && l.set && !l.long {
		*out = append(*out, l.flat...)
		return
	}
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
		joined = joinFlat(joined, flatten(c))
	}
	*out = append(*out, api.ValueTypeI32)
	*out = append(*out, joined...)
}

// joinFlat joins the core value types of a variant's case, f, into those
// of the cases before it.
func joinFlat(joined, f []api.ValueType) []api.ValueType {
	for i, ft := range f {
		if i < len(joined) {
			joined[i] = join(joined[i], ft)
		} else {
			joined = append(joined, ft)
		}
	}
	return joined
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

// A funcSig is what the Canonical ABI makes of a function type's
// parameters and result, computed once when the type is resolved
// (setLayout): a `canon lift` or `canon lower` of it, of which a component
// can have a million, then costs what its core signature has values, not
// what the type has nodes.
type funcSig struct {
	params        []api.ValueType // flattened, nil when spilled
	spilled       bool            // more than maxFlatParams
	results       []api.ValueType // flattened, nil when spilled or none
	spilledResult bool            // more than maxFlatResults
	memory        bool            // lifting or lowering touches memory
}

// sigOf returns the funcSig of f.
func sigOf(f *rfunc) *funcSig {
	if f.sig != nil {
		return f.sig
	}
	s := &funcSig{}
	for _, p := range f.params {
		flat, long := flatShort(p.t)
		if long || len(s.params)+len(flat) > maxFlatParams {
			s.params, s.spilled = nil, true
			break
		}
		s.params = append(s.params, flat...)
	}
	if f.result != nil {
		flat, long := flatShort(f.result)
		if s.spilledResult = long || len(flat) > maxFlatResults; !s.spilledResult {
			s.results = flat
		}
	}
	s.memory = s.spilled || s.spilledResult || (f.result != nil && usesMemory(f.result))
	for _, p := range f.params {
		s.memory = s.memory || usesMemory(p.t)
	}
	return s
}

// flatShort returns the core value types t flattens to, or long when they
// are more than maxFlatParams (a parameter spills, a result too): a
// record's, tuple's or variant's from its layout, without walking it.
func flatShort(t rtype) (flat []api.ValueType, long bool) {
	if l := layoutOf(t); l != nil && l.set {
		return l.flat, l.long
	}
	add := func(t rtype) bool {
		f, long := flatShort(t)
		flat = append(flat, f...)
		return !long && len(flat) <= maxFlatParams
	}
	switch t := t.(type) {
	case *rrecord:
		for _, f := range t.fields {
			if !add(f.t) {
				return nil, true
			}
		}
	case *rtuple:
		for _, e := range t.elems {
			if !add(e) {
				return nil, true
			}
		}
	case *rvariant, *roption, *rresult:
		var joined []api.ValueType
		for _, c := range variantCases(t) {
			if c == nil {
				continue
			}
			f, long := flatShort(c)
			if long {
				return nil, true
			}
			joined = joinFlat(joined, f)
		}
		if 1+len(joined) > maxFlatParams {
			return nil, true
		}
		flat = append([]api.ValueType{api.ValueTypeI32}, joined...)
	default:
		flat = flatten(t) // a primitive, list, flags, enum or handle: at most two
	}
	return flat, false
}

// lowerSignature is the core signature of f lowered (canon lower): spilled
// parameters become one pointer, spilled results a pointer parameter.
func lowerSignature(f *rfunc) (params, results []api.ValueType) {
	s := sigOf(f)
	params = slices.Clone(s.params)
	if s.spilled {
		params = []api.ValueType{api.ValueTypeI32}
	}
	if s.spilledResult {
		return append(params, api.ValueTypeI32), nil
	}
	return params, slices.Clone(s.results)
}

// liftSignature is the core signature of the function f lifts (canon
// lift): spilled parameters are one pointer, spilled results a returned
// pointer.
func liftSignature(f *rfunc) (params, results []api.ValueType) {
	s := sigOf(f)
	params, results = slices.Clone(s.params), slices.Clone(s.results)
	if s.spilled {
		params = []api.ValueType{api.ValueTypeI32}
	}
	if s.spilledResult {
		results = []api.ValueType{api.ValueTypeI32}
	}
	return params, results
}

// usesMemory reports whether lifting or lowering t touches memory.
func usesMemory(t rtype) bool {
	if l := layoutOf(t); l != nil && l.set {
		return l.memory
	}
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
