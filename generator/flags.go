package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// flagsWords returns the number of 32-bit words of a flags type that does
// not fit a Go integer (more than 64 flags), or 0.
func flagsWords(f *Flags) int {
	if len(f.Flags) <= 64 {
		return 0
	}
	return (len(f.Flags) + 31) / 32
}

// flagsGoBytes is the byte width of the Go integer holding up to 64 flags.
func flagsGoBytes(f *Flags) uint32 {
	n := len(f.Flags)
	switch {
	case n <= 8:
		return 1
	case n <= 16:
		return 2
	case n <= 32:
		return 4
	}
	return 8
}

// flagsMask is the mask of the valid bits of a flags type of at most 64
// flags.
func flagsMask(f *Flags) uint64 {
	if len(f.Flags) == 64 {
		return ^uint64(0)
	}
	return 1<<len(f.Flags) - 1
}

// flags emits a WIT flags type: a named unsigned integer with one constant
// per flag, or above 64 flags an array of uint32 words with bit-index
// constants and Has/Set/Clear methods.
func (e *emitter) flags(d *Decl, f *Flags) []jen.Code {
	if n := flagsWords(f); n > 0 {
		bit := d.GoName + "Bit"
		var defs []jen.Code
		for i, c := range f.Flags {
			for _, l := range docLines(c.Docs) {
				defs = append(defs, jen.Comment(l))
			}
			defs = append(defs, jen.Id(d.GoName+c.GoName).Id(bit).Op("=").Lit(i))
		}
		word := jen.Id("x").Index(jen.Id("b").Op("/").Lit(32))
		mask := jen.Uint32().Call(jen.Lit(1)).Op("<<").Parens(jen.Id("b").Op("%").Lit(32))
		return []jen.Code{
			group(e.docComment(d, "the WIT flags"), jen.Type().Id(d.GoName).Index(jen.Lit(n)).Uint32()),
			jen.Comment(fmt.Sprintf("%s is the index of a flag of %s.", bit, d.GoName)).Line().Type().Id(bit).Uint(),
			jen.Comment(fmt.Sprintf("The flags of %s.", d.GoName)).Line().Const().Defs(defs...),
			jen.Comment("Has reports whether flag b is set.").Line().
				Func().Params(jen.Id("x").Id(d.GoName)).Id("Has").Params(jen.Id("b").Id(bit)).Bool().Block(
				jen.Return(jen.Add(word).Op("&").Add(mask).Op("!=").Lit(0))),
			jen.Comment("Set sets flag b.").Line().
				Func().Params(jen.Id("x").Op("*").Id(d.GoName)).Id("Set").Params(jen.Id("b").Id(bit)).Block(
				jen.Add(word).Op("|=").Add(mask)),
			jen.Comment("Clear clears flag b.").Line().
				Func().Params(jen.Id("x").Op("*").Id(d.GoName)).Id("Clear").Params(jen.Id("b").Id(bit)).Block(
				jen.Add(word).Op("&^=").Add(mask)),
		}
	}
	var defs []jen.Code
	for i, c := range f.Flags {
		for _, l := range docLines(c.Docs) {
			defs = append(defs, jen.Comment(l))
		}
		if i == 0 {
			defs = append(defs, jen.Id(d.GoName+c.GoName).Id(d.GoName).Op("=").Lit(1).Op("<<").Iota())
		} else {
			defs = append(defs, jen.Id(d.GoName+c.GoName))
		}
	}
	out := []jen.Code{
		group(e.docComment(d, "the WIT flags"), jen.Type().Id(d.GoName).Add(uintType(flagsGoBytes(f)))),
		jen.Comment(fmt.Sprintf("The flags of %s.", d.GoName)).Line().Const().Defs(defs...),
	}
	if d.IsError {
		out = append(out, jen.Comment("Error implements error: the flags are the error payload of a function's result.").Line().
			Func().Params(jen.Id("e").Id(d.GoName)).Id("Error").Params().String().Block(
			jen.Return(jen.Qual("fmt", "Sprintf").Call(jen.Lit(d.Name+": %#x"), jen.Uint64().Call(jen.Id("e"))))))
	}
	return out
}
