package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// record emits a WIT record as a Go struct with its fields in order.
func (e *emitter) record(d *Decl, r *Record) []jen.Code {
	var fields []jen.Code
	for _, f := range r.Fields {
		for _, l := range docLines(f.Docs) {
			fields = append(fields, jen.Comment(l))
		}
		fields = append(fields, jen.Id(f.GoName).Add(e.goType(f.Type)).Tag(map[string]string{"wit": f.Name}))
	}
	out := []jen.Code{group(e.docComment(d, "the WIT record"), jen.Type().Id(d.GoName).Struct(fields...))}
	if d.IsError {
		out = append(out, jen.Comment("Error implements error: the record is the error payload of a function's result.").Line().
			Func().Params(jen.Id("e").Id(d.GoName)).Id("Error").Params().String().Block(
			jen.Type().Id("plain").Id(d.GoName),
			jen.Return(jen.Qual("fmt", "Sprintf").Call(jen.Lit(fmt.Sprintf("%s: %%+v", d.Name)), jen.Id("plain").Call(jen.Id("e")))),
		))
	}
	return out
}
