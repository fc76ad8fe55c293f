package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// resource emits a WIT resource: a Go interface embedding cabi.Resource
// with one method per WIT method, and its *cabi.ResourceType.
func (e *emitter) resource(d *Decl, r *Resource) ([]jen.Code, error) {
	if d.Iface.Exported {
		return e.exportedResource(d), nil
	}
	methods := []jen.Code{jen.Qual(cabiPath, "Resource")}
	for _, f := range r.Methods {
		for _, c := range e.funcDoc(f) {
			methods = append(methods, c)
		}
		methods = append(methods, jen.Id(f.GoName).Add(e.signature(f, 1)))
	}
	rv := e.resourceVar(d)
	name := d.Iface.ModuleName + "." + d.Name
	return []jen.Code{
		group(e.docComment(d, "the WIT resource"), jen.Type().Id(d.GoName).Interface(methods...)),
		jen.Comment(fmt.Sprintf("%s identifies %s handles in the resource table, for every version of the interface.", rv, d.GoName)).Line().
			Var().Id(rv).Op("=").Qual(cabiPath, "NewResourceType").Call(jen.Lit(name)),
	}, nil
}

// exportedResource emits a resource the guest exports: a struct embedding
// cabi.GuestResource, the host's own handle, whose methods (export.go)
// call the guest; and its *cabi.ResourceType.
func (e *emitter) exportedResource(d *Decl) []jen.Code {
	rv := e.resourceVar(d)
	doc := e.docComment(d, "the host's handle to the WIT resource")
	doc = append(doc[:1], append([]jen.Code{
		jen.Comment(""),
		jen.Comment("The guest implements it. The host holds one from an export returning"),
		jen.Comment("own<" + d.Name + ">, calls its methods, passes it back (as own<" + d.Name + "> it moves to"),
		jen.Comment("the guest and is spent) and must Drop it, which runs the guest's destructor."),
	}, doc[1:]...)...)
	return []jen.Code{
		group(doc, jen.Type().Id(d.GoName).Struct(
			jen.Qual(cabiPath, "GuestResource"),
			jen.Id("x").Op("*").Id("Exports"),
		)),
		jen.Comment(fmt.Sprintf("%s identifies %s handles in the guest's resource table.", rv, d.GoName)).Line().
			Var().Id(rv).Op("=").Qual(cabiPath, "NewResourceType").Call(jen.Lit(d.Iface.ModuleName + "." + d.Name)),
	}
}
