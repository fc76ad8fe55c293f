package generator

// Canonical ABI sizes, alignments and flattening for wasm32, computed on the
// model. See
// https://github.com/WebAssembly/component-model/blob/main/design/mvp/CanonicalABI.md

// Core is a core WebAssembly value type in a flattened signature.
type Core int

// The core value types.
const (
	I32 Core = iota
	I64
	CF32
	CF64
)

// Limits on flattened signatures (CanonicalABI.md, "Flattening").
const (
	maxFlatParams  = 16
	maxFlatResults = 1
)

func alignTo(n, a uint32) uint32 { return (n + a - 1) &^ (a - 1) }

// discSize is the size of the discriminant of a variant with n cases.
func discSize(n int) uint32 {
	switch {
	case n <= 1<<8:
		return 1
	case n <= 1<<16:
		return 2
	}
	return 4
}

// flagsSize is the size of a flags type with n flags.
func flagsSize(n int) uint32 {
	switch {
	case n == 0:
		return 0
	case n <= 8:
		return 1
	case n <= 16:
		return 2
	}
	return 4 * uint32((n+31)/32)
}

// cases returns the payload types of a variant-like type (nil entries for
// cases without payload).
func cases(t Type) []Type {
	switch t := t.(type) {
	case *Option:
		return []Type{nil, t.Elem}
	case *Result:
		return []Type{t.OK, t.Err}
	case *Ref:
		switch k := t.Decl.Kind.(type) {
		case *Variant:
			var ts []Type
			for _, c := range k.Cases {
				ts = append(ts, c.Type)
			}
			return ts
		case *Alias:
			return cases(k.Target)
		}
	}
	return nil
}

// fields returns the field types of a record-like type.
func fields(t Type) []Type {
	switch t := t.(type) {
	case *Tuple:
		return t.Elems
	case *Ref:
		switch k := t.Decl.Kind.(type) {
		case *Record:
			var ts []Type
			for _, f := range k.Fields {
				ts = append(ts, f.Type)
			}
			return ts
		case *Alias:
			return fields(k.Target)
		}
	}
	return nil
}

// resolve follows aliases.
func resolve(t Type) Type {
	for {
		r, ok := t.(*Ref)
		if !ok {
			return t
		}
		a, ok := r.Decl.Kind.(*Alias)
		if !ok {
			return t
		}
		t = a.Target
	}
}

// isVariant reports whether t lays out as a variant.
func isVariant(t Type) bool {
	switch t := resolve(t).(type) {
	case *Option, *Result:
		return true
	case *Ref:
		_, ok := t.Decl.Kind.(*Variant)
		return ok
	}
	return false
}

// isRecord reports whether t lays out as a record.
func isRecord(t Type) bool {
	switch t := resolve(t).(type) {
	case *Tuple:
		return true
	case *Ref:
		_, ok := t.Decl.Kind.(*Record)
		return ok
	}
	return false
}

// alignment returns the ABI alignment of t.
func alignment(t Type) uint32 {
	t = resolve(t)
	switch t := t.(type) {
	case Prim:
		switch t {
		case Bool, S8, U8:
			return 1
		case S16, U16:
			return 2
		case S64, U64, F64:
			return 8
		}
		return 4 // s32, u32, f32, char, string
	case *List, *Handle:
		return 4
	case *Ref:
		switch k := t.Decl.Kind.(type) {
		case *Enum:
			return discSize(len(k.Cases))
		case *Flags:
			return min(flagsSize(len(k.Flags)), 4)
		}
	}
	if isRecord(t) {
		a := uint32(1)
		for _, f := range fields(t) {
			a = max(a, alignment(f))
		}
		return a
	}
	if isVariant(t) {
		cs := cases(t)
		a := discSize(len(cs))
		for _, c := range cs {
			if c != nil {
				a = max(a, alignment(c))
			}
		}
		return a
	}
	panic("generator: alignment of unsupported type")
}

// size returns the ABI size of t.
func size(t Type) uint32 {
	t = resolve(t)
	switch t := t.(type) {
	case Prim:
		switch t {
		case Bool, S8, U8:
			return 1
		case S16, U16:
			return 2
		case S64, U64, F64, String:
			return 8
		}
		return 4
	case *List:
		return 8
	case *Handle:
		return 4
	case *Ref:
		switch k := t.Decl.Kind.(type) {
		case *Enum:
			return discSize(len(k.Cases))
		case *Flags:
			return flagsSize(len(k.Flags))
		}
	}
	if isRecord(t) {
		var s uint32
		for _, f := range fields(t) {
			s = alignTo(s, alignment(f)) + size(f)
		}
		return alignTo(s, alignment(t))
	}
	if isVariant(t) {
		cs := cases(t)
		var m uint32
		for _, c := range cs {
			if c != nil {
				m = max(m, size(c))
			}
		}
		return alignTo(payloadOffset(t)+m, alignment(t))
	}
	panic("generator: size of unsupported type")
}

// payloadOffset returns the offset of a variant's payload.
func payloadOffset(t Type) uint32 {
	cs := cases(t)
	a := uint32(1)
	for _, c := range cs {
		if c != nil {
			a = max(a, alignment(c))
		}
	}
	return alignTo(discSize(len(cs)), a)
}

// fieldOffsets returns the offsets of a record-like type's fields.
func fieldOffsets(t Type) []uint32 {
	var offs []uint32
	var s uint32
	for _, f := range fields(t) {
		s = alignTo(s, alignment(f))
		offs = append(offs, s)
		s += size(f)
	}
	return offs
}

// flat returns the flattened core types of t.
func flat(t Type) []Core {
	t = resolve(t)
	switch t := t.(type) {
	case Prim:
		switch t {
		case S64, U64:
			return []Core{I64}
		case F32:
			return []Core{CF32}
		case F64:
			return []Core{CF64}
		case String:
			return []Core{I32, I32}
		}
		return []Core{I32}
	case *List:
		return []Core{I32, I32}
	case *Handle:
		return []Core{I32}
	case *Ref:
		switch k := t.Decl.Kind.(type) {
		case *Enum:
			return []Core{I32}
		case *Flags:
			n := (len(k.Flags) + 31) / 32
			out := make([]Core, n)
			return out
		}
	}
	if isRecord(t) {
		var out []Core
		for _, f := range fields(t) {
			out = append(out, flat(f)...)
		}
		return out
	}
	if isVariant(t) {
		var out []Core
		for _, c := range cases(t) {
			if c == nil {
				continue
			}
			for i, f := range flat(c) {
				if i < len(out) {
					out[i] = join(out[i], f)
				} else {
					out = append(out, f)
				}
			}
		}
		return append([]Core{I32}, out...)
	}
	panic("generator: flattening of unsupported type")
}

// join merges two core types sharing a slot of a flattened variant.
func join(a, b Core) Core {
	switch {
	case a == b:
		return a
	case (a == I32 && b == CF32) || (a == CF32 && b == I32):
		return I32
	}
	return I64
}

// flatParams returns the flattened parameters of f as the guest calls it,
// and whether they were spilled to memory (then one i32 pointer).
func flatParams(f *Func) ([]Core, bool) {
	var out []Core
	for _, p := range f.Params {
		out = append(out, flat(p.Type)...)
	}
	if len(out) > maxFlatParams {
		return []Core{I32}, true
	}
	return out, false
}

// resultType returns the single type standing for f's results (a tuple for
// several named results), or nil.
func resultType(f *Func) Type {
	switch len(f.Results) {
	case 0:
		return nil
	case 1:
		return f.Results[0].Type
	}
	return tupleOf(paramTypes(f.Results))
}

// paramsType returns the tuple f's parameters lay out as when spilled.
func paramsType(f *Func) *Tuple { return tupleOf(paramTypes(f.Params)) }

func paramTypes(ps []*Param) []Type {
	var ts []Type
	for _, p := range ps {
		ts = append(ts, p.Type)
	}
	return ts
}

// flatResults returns the flattened results of f and whether they go
// through a return pointer (then no results and one more i32 parameter).
func flatResults(f *Func) ([]Core, bool) {
	t := resultType(f)
	if t == nil {
		return nil, false
	}
	out := flat(t)
	if len(out) > maxFlatResults {
		return nil, true
	}
	return out, false
}
