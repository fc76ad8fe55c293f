package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// variant emits a WIT variant as a struct holding a Tag and one field per
// case with a payload, a tag type with constants, and one constructor
// function per case.
func (e *emitter) variant(d *Decl, v *Variant) []jen.Code {
	tag := d.GoName + "Tag"
	fields := []jen.Code{jen.Comment("Tag selects the case."), jen.Id("Tag").Id(tag)}
	for _, c := range v.Cases {
		if c.Type == nil {
			continue
		}
		fields = append(fields, jen.Comment(fmt.Sprintf("%s is the payload of case %s.", c.GoName, c.Name)))
		fields = append(fields, jen.Id(c.GoName).Add(e.goType(c.Type)))
	}
	out := []jen.Code{
		group(e.docComment(d, "the WIT variant"), jen.Type().Id(d.GoName).Struct(fields...)),
		jen.Comment(fmt.Sprintf("%s is the case of a %s.", tag, d.GoName)).Line().Type().Id(tag).Add(uintType(discSize(len(v.Cases)))),
	}
	out = append(out, e.caseConsts(tag, tag, v.Cases)...)
	out = append(out, e.stringMethod(tag, tag, v.Cases)...)
	for _, c := range v.Cases {
		var doc []jen.Code
		doc = append(doc, jen.Comment(fmt.Sprintf("%s%s returns the %s case of %s.", d.GoName, c.GoName, c.Name, d.GoName)))
		if l := docLines(c.Docs); len(l) > 0 {
			doc = append(doc, jen.Comment(""))
			for _, s := range l {
				doc = append(doc, jen.Comment(s))
			}
		}
		vals := jen.Dict{jen.Id("Tag"): jen.Id(tag + c.GoName)}
		var params []jen.Code
		if c.Type != nil {
			params = append(params, jen.Id("v").Add(e.goType(c.Type)))
			vals[jen.Id(c.GoName)] = jen.Id("v")
		}
		out = append(out, group(doc, jen.Func().Id(d.GoName+c.GoName).Params(params...).Id(d.GoName).Block(
			jen.Return(jen.Id(d.GoName).Values(vals)))))
	}
	if d.IsError {
		out = append(out, jen.Comment("Error implements error: the variant is the error payload of a function's result.").Line().
			Func().Params(jen.Id("e").Id(d.GoName)).Id("Error").Params().String().Block(
			jen.Return(jen.Lit(d.Name+": ").Op("+").Id("e").Dot("Tag").Dot("String").Call()),
		))
	}
	return out
}
