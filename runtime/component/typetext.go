package component

import "strings"

// The text form of a function type that cabi.Binder.Func compares with the
// type wit2host's bindings were generated for: the WIT function type with
// every named type spelled out ("func(p: record{x: s32, y: s32}) ->
// option<string>"), resources named by their WIT names. Each side writes
// it from its own model; equal texts are equal types.

// funcText returns t in the text form, names giving the names of resources
// the component defines (an imported resource has its own).
func funcText(t *rfunc, names map[*rresource]string) string {
	var ps []string
	for _, p := range t.params {
		ps = append(ps, p.name+": "+typeText(p.t, names))
	}
	s := "func(" + strings.Join(ps, ", ") + ")"
	if t.result != nil {
		s += " -> " + typeText(t.result, names)
	}
	return s
}

// typeText returns value type t in the text form.
func typeText(t rtype, names map[*rresource]string) string {
	list := func(fs []rfield, sep string) string {
		var s []string
		for _, f := range fs {
			switch {
			case sep == "(" && f.t != nil:
				s = append(s, f.name+"("+typeText(f.t, names)+")")
			case sep == ": ":
				s = append(s, f.name+": "+typeText(f.t, names))
			default:
				s = append(s, f.name)
			}
		}
		return strings.Join(s, ", ")
	}
	res := func(r *rresource) string {
		if n, ok := names[r]; ok {
			return n
		}
		return r.name
	}
	switch t := t.(type) {
	case rprim:
		return Prim(t).String()
	case *rlist:
		return "list<" + typeText(t.elem, names) + ">"
	case *roption:
		return "option<" + typeText(t.elem, names) + ">"
	case *rresult:
		switch {
		case t.ok == nil && t.err == nil:
			return "result"
		case t.err == nil:
			return "result<" + typeText(t.ok, names) + ">"
		case t.ok == nil:
			return "result<_, " + typeText(t.err, names) + ">"
		}
		return "result<" + typeText(t.ok, names) + ", " + typeText(t.err, names) + ">"
	case *rtuple:
		var s []string
		for _, e := range t.elems {
			s = append(s, typeText(e, names))
		}
		return "tuple<" + strings.Join(s, ", ") + ">"
	case *rrecord:
		return "record{" + list(t.fields, ": ") + "}"
	case *rvariant:
		return "variant{" + list(t.cases, "(") + "}"
	case *renum:
		return "enum{" + strings.Join(t.names, ", ") + "}"
	case *rflags:
		return "flags{" + strings.Join(t.names, ", ") + "}"
	case *rown:
		return "own<" + res(t.res) + ">"
	case *rborrow:
		return "borrow<" + res(t.res) + ">"
	}
	return "?"
}
