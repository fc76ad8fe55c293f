package component

import "fmt"

// Type size limits. A type definition names earlier types by index, so a
// few bytes can define a type that is enormous when expanded (each of 41
// tuples a pair of the one before: 2^41 core values flattened) or nested
// deeper than the host's stack holds (a list of a list of ... 200,000
// deep). Everything that walks a type (flattening, size and alignment,
// lifting and lowering values, the type's text) walks it expanded and
// recursively, so each value type is measured when it is resolved and
// refused past these bounds, before anything walks it.
const (
	// MaxTypeDepth bounds the nesting of a value or function type, as
	// wasmtime's MAX_TYPE_DEPTH does.
	MaxTypeDepth = 100
	// MaxTypeSize bounds the number of type nodes (primitives, fields,
	// cases, elements) of a value or function type expanded.
	MaxTypeSize = 100_000
)

// A typeMeasure is the size and depth of a resolved type expanded.
type typeMeasure struct{ size, depth int }

// measure measures t, whose parts are already measured (they were
// resolved first), and refuses it past the limits.
func (st *state) measure(t rtype) error {
	m := typeMeasure{size: 1, depth: 1}
	add := func(parts ...rtype) {
		for _, p := range parts {
			if p == nil {
				continue
			}
			pm := st.measureOf(p)
			m.size += pm.size
			m.depth = max(m.depth, pm.depth+1)
		}
	}
	switch t := t.(type) {
	case *rrecord:
		for _, f := range t.fields {
			add(f.t)
		}
	case *rvariant:
		for _, c := range t.cases {
			add(c.t)
		}
	case *rlist:
		add(t.elem)
	case *rtuple:
		add(t.elems...)
	case *roption:
		add(t.elem)
	case *rresult:
		add(t.ok, t.err)
	case *rfunc:
		for _, p := range t.params {
			add(p.t)
		}
		add(t.result)
	case *rflags:
		m.size += t.n
	case *renum:
		m.size += t.n
	default:
		return nil // primitives, handles, resources, instance and component types
	}
	if m.depth > MaxTypeDepth {
		return fmt.Errorf("type nested too deep (%d levels, at most %d)", m.depth, MaxTypeDepth)
	}
	if m.size > MaxTypeSize {
		return fmt.Errorf("type too large (%d nodes expanded, at most %d)", m.size, MaxTypeSize)
	}
	if st.measures == nil {
		st.measures = map[rtype]typeMeasure{}
	}
	st.measures[t] = m
	return nil
}

// measureOf returns the measure of a resolved type: a primitive, handle
// or other leaf counts one.
func (st *state) measureOf(t rtype) typeMeasure {
	if m, ok := st.measures[t]; ok {
		return m
	}
	return typeMeasure{size: 1, depth: 1}
}
