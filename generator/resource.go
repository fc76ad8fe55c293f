package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// resource emits a WIT resource: a Go interface embedding cabi.Resource
// with one method per WIT method, and its *cabi.ResourceType.
func (e *emitter) resource(d *Decl, r *Resource) ([]jen.Code, error) {
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
