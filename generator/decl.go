package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// decl emits the Go declaration(s) of a WIT type declaration.
func (e *emitter) decl(d *Decl) ([]jen.Code, error) {
	var code []jen.Code
	var err error
	switch k := d.Kind.(type) {
	case *Record:
		code = e.record(d, k)
	case *Variant:
		code = e.variant(d, k)
	case *Enum:
		code = e.enum(d, k)
	case *Flags:
		code = e.flags(d, k)
	case *Resource:
		if e.guest && d.Iface.Exported {
			code = e.guestImplResource(d, k)
			break
		}
		if e.guest {
			code = e.guestResource(d)
			break
		}
		code, err = e.resource(d, k)
	case *Alias:
		code = e.alias(d, k)
		if e.guest {
			code = append(code, e.guestAliasBorrow(d, k)...)
		}
	default:
		err = fmt.Errorf("unsupported declaration %T", k)
	}
	return code, err
}

// docComment is the doc comment of declaration d.
func (e *emitter) docComment(d *Decl, what string) []jen.Code {
	return comments(fmt.Sprintf("%s is %s %s of %s.", d.GoName, what, d.Name, e.qualifiedName()), d.Docs, d.WIT)
}

// group joins doc comments and a declaration into one statement list.
func group(doc []jen.Code, decl jen.Code) jen.Code {
	s := jen.Null()
	for _, c := range doc {
		s.Add(c).Line()
	}
	return s.Add(decl)
}
