package generator

import "github.com/dave/jennifer/jen"

// alias emits `type x = T` and the aliases `use` creates as Go aliases.
func (e *emitter) alias(d *Decl, a *Alias) []jen.Code {
	what := "the WIT type"
	if r, ok := a.Target.(*Ref); ok && r.Decl.Iface != d.Iface {
		what = "the WIT type used as"
	}
	return []jen.Code{group(e.docComment(d, what), jen.Type().Id(d.GoName).Op("=").Add(e.goType(a.Target)))}
}
