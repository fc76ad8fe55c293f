package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// uintType is the Go unsigned type of n bytes.
func uintType(n uint32) *jen.Statement {
	switch n {
	case 1:
		return jen.Uint8()
	case 2:
		return jen.Uint16()
	case 8:
		return jen.Uint64()
	}
	return jen.Uint32()
}

// enum emits a WIT enum as a named unsigned integer with one constant per
// case and a String method.
func (e *emitter) enum(d *Decl, en *Enum) []jen.Code {
	out := []jen.Code{group(e.docComment(d, "the WIT enum"), jen.Type().Id(d.GoName).Add(uintType(discSize(len(en.Cases)))))}
	out = append(out, e.caseConsts(d.GoName, d.GoName, en.Cases)...)
	out = append(out, e.stringMethod(d.GoName, d.GoName, en.Cases)...)
	if d.IsError {
		out = append(out, jen.Comment("Error implements error: the enum is the error payload of a function's result.").Line().
			Func().Params(jen.Id("e").Id(d.GoName)).Id("Error").Params().String().Block(
			jen.Return(jen.Lit(d.Name+": ").Op("+").Id("e").Dot("String").Call()),
		))
	}
	return out
}

// caseConsts emits the constants of enum or tag type typ, named prefix+case.
func (e *emitter) caseConsts(typ, prefix string, cases []*Case) []jen.Code {
	var defs []jen.Code
	for i, c := range cases {
		for _, l := range docLines(c.Docs) {
			defs = append(defs, jen.Comment(l))
		}
		if i == 0 {
			defs = append(defs, jen.Id(prefix+c.GoName).Id(typ).Op("=").Iota())
		} else {
			defs = append(defs, jen.Id(prefix+c.GoName))
		}
	}
	return []jen.Code{jen.Comment(fmt.Sprintf("The values of %s.", typ)).Line().Const().Defs(defs...)}
}

// stringMethod emits a String method returning the WIT case names.
func (e *emitter) stringMethod(typ, namesVar string, cases []*Case) []jen.Code {
	v := lowerFirst(namesVar) + "Names"
	var names []jen.Code
	for _, c := range cases {
		names = append(names, jen.Lit(c.Name))
	}
	return []jen.Code{
		jen.Var().Id(v).Op("=").Index(jen.Op("...")).String().Values(names...),
		jen.Comment("String returns the WIT name of the case.").Line().
			Func().Params(jen.Id("v").Id(typ)).Id("String").Params().String().Block(
			jen.If(jen.Int().Call(jen.Id("v")).Op("<").Len(jen.Id(v))).Block(jen.Return(jen.Id(v).Index(jen.Id("v")))),
			jen.Return(jen.Lit(typ+"(").Op("+").Qual("strconv", "FormatUint").Call(jen.Uint64().Call(jen.Id("v")), jen.Lit(10)).Op("+").Lit(")")),
		),
	}
}

func lowerFirst(s string) string {
	r := []rune(s)
	i := 0
	for i < len(r) && r[i] >= 'A' && r[i] <= 'Z' {
		i++
	}
	switch {
	case i == 0:
	case i == 1 || i == len(r):
		for j := 0; j < i; j++ {
			r[j] += 'a' - 'A'
		}
	default: // "IPAddress" → "ipAddress"
		for j := 0; j < i-1; j++ {
			r[j] += 'a' - 'A'
		}
	}
	return string(r)
}
