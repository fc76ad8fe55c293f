package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// Lifting: guest values to Go values, from memory (load helpers) or from
// flattened core values on the wazero stack (lift helpers). Helpers are
// generated once per type and package, named after the type.

// genError aborts generation from deep inside an emitter; emit recovers it.
type genError struct{ err error }

func fail(format string, args ...any) {
	panic(genError{fmt.Errorf(format, args...)})
}

var (
	callParam = jen.Id("c").Op("*").Qual(cabiPath, "Call")
	cID       = func() *jen.Statement { return jen.Id("c") }
)

// helper registers the helper function name, built by build on first use.
func (e *emitter) helper(name string, build func() jen.Code) string {
	if _, ok := e.helpers[name]; !ok {
		e.helpers[name] = nil // reserve while building nested helpers
		e.helpers[name] = build()
	}
	return name
}

// offset returns p+off.
func offset(p jen.Code, off uint32) jen.Code {
	if off == 0 {
		return p
	}
	return jen.Add(p).Op("+").Lit(int(off))
}

// slot returns s[i].
func slot(s jen.Code, i int) *jen.Statement { return jen.Add(s).Index(jen.Lit(i)) }

// u32 returns uint32(x).
func u32(x jen.Code) *jen.Statement { return jen.Uint32().Call(x) }

// discLoad loads a discriminant of a variant with n cases at p, as uint32.
func discLoad(n int, p jen.Code) jen.Code {
	switch discSize(n) {
	case 1:
		return u32(cID().Dot("U8").Call(p))
	case 2:
		return u32(cID().Dot("U16").Call(p))
	}
	return cID().Dot("U32").Call(p)
}

// primLoad loads primitive t at p.
func primLoad(t Prim, p jen.Code) jen.Code {
	c := cID
	switch t {
	case Bool:
		return c().Dot("U8").Call(p).Op("!=").Lit(0)
	case S8:
		return jen.Int8().Call(c().Dot("U8").Call(p))
	case U8:
		return c().Dot("U8").Call(p)
	case S16:
		return jen.Int16().Call(c().Dot("U16").Call(p))
	case U16:
		return c().Dot("U16").Call(p)
	case S32:
		return jen.Int32().Call(c().Dot("U32").Call(p))
	case U32:
		return c().Dot("U32").Call(p)
	case S64:
		return jen.Int64().Call(c().Dot("U64").Call(p))
	case U64:
		return c().Dot("U64").Call(p)
	case F32:
		return c().Dot("F32").Call(p)
	case F64:
		return c().Dot("F64").Call(p)
	case Char:
		return c().Dot("Char").Call(c().Dot("U32").Call(p))
	case String:
		return c().Dot("String").Call(c().Dot("U32").Call(p), c().Dot("U32").Call(offset(p, 4)))
	}
	panic("unreachable")
}

// primLift lifts primitive t from s[i] (and s[i+1] for strings).
func primLift(t Prim, s jen.Code, i int) jen.Code {
	v := slot(s, i)
	switch t {
	case Bool:
		return u32(v).Op("!=").Lit(0)
	case S8:
		return jen.Int8().Call(v)
	case U8:
		return jen.Uint8().Call(v)
	case S16:
		return jen.Int16().Call(v)
	case U16:
		return jen.Uint16().Call(v)
	case S32:
		return jen.Int32().Call(v)
	case U32:
		return u32(v)
	case S64:
		return jen.Int64().Call(v)
	case U64:
		return v
	case F32:
		return jen.Qual("math", "Float32frombits").Call(u32(v))
	case F64:
		return jen.Qual("math", "Float64frombits").Call(v)
	case Char:
		return cID().Dot("Char").Call(u32(v))
	case String:
		return cID().Dot("String").Call(u32(v), u32(slot(s, i+1)))
	}
	panic("unreachable")
}

// listExpr lifts a list<elem> of n elements at ptr.
func (e *emitter) listExpr(elem Type, ptr, n jen.Code) jen.Code {
	if resolve(elem) == U8 {
		if e.i.Exported {
			// Results of an export: post-return may free the memory.
			return cID().Dot("BytesCopy").Call(ptr, n)
		}
		return cID().Dot("Bytes").Call(ptr, n)
	}
	name := "list" + e.mangle(elem)
	e.helper(name, func() jen.Code {
		sz := size(elem)
		return jen.Func().Id(name).Params(callParam, jen.List(jen.Id("p"), jen.Id("n")).Uint32()).Index().Add(e.goType(elem)).Block(
			cID().Dot("CheckList").Call(jen.Id("p"), jen.Id("n"), jen.Lit(int(sz)), jen.Lit(int(alignment(elem)))),
			jen.Id("v").Op(":=").Qual(cabiPath, "MakeList").Types(e.goType(elem)).Call(jen.Id("c"), jen.Id("n"), jen.Lit(int(sz))),
			jen.For(jen.Id("i").Op(":=").Range().Id("v")).Block(
				jen.Id("v").Index(jen.Id("i")).Op("=").Add(e.loadExpr(elem, jen.Id("p").Op("+").Uint32().Call(jen.Id("i")).Op("*").Lit(int(sz)))),
			),
			jen.Return(jen.Id("v")),
		)
	})
	return jen.Id(name).Call(cID(), ptr, n)
}

// handleLift lifts handle h from the u32 expression x.
func (e *emitter) handleLift(h *Handle, x jen.Code) jen.Code {
	rt, err := e.resourceType(h.Res)
	if err != nil {
		fail("%v", err)
	}
	if r := guestRes(h); r != nil {
		if !h.Own {
			fail("a borrow<%s> cannot come back from the guest", h.Res.Name)
		}
		// The *R wraps the taken rep and the Exports the call went through.
		return jen.Op("&").Add(e.declRef(r, r.GoName)).Values(jen.Dict{
			jen.Id("GuestResource"): cID().Dot("TakeRep").Call(x, rt),
			jen.Id("x"):             cID().Dot("Owner").Call().Assert(jen.Op("*").Id("Exports")),
		})
	}
	op := "Borrow"
	if h.Own {
		op = "Take"
	}
	return cID().Dot(op).Call(x, rt).Assert(e.goType(h))
}

// loadExpr returns an expression loading a t at address p.
func (e *emitter) loadExpr(t Type, p jen.Code) jen.Code {
	rt := resolve(t)
	if pr, ok := rt.(Prim); ok {
		return primLoad(pr, p)
	}
	if l, ok := rt.(*List); ok {
		return e.listExpr(l.Elem, cID().Dot("U32").Call(p), cID().Dot("U32").Call(offset(p, 4)))
	}
	if h, ok := rt.(*Handle); ok {
		return e.handleLift(h, cID().Dot("U32").Call(p))
	}
	name := e.helper("load"+e.mangle(rt), func() jen.Code {
		return jen.Func().Id("load"+e.mangle(rt)).Params(callParam, jen.Id("p").Uint32()).Add(e.goType(rt)).Block(e.loadBody(rt)...)
	})
	return jen.Id(name).Call(cID(), p)
}

// loadBody is the body of the load helper of a compound type.
func (e *emitter) loadBody(t Type) []jen.Code {
	p := jen.Id("p")
	switch {
	case isRecord(t):
		return []jen.Code{jen.Return(e.composite(t, func(i int, f Type) jen.Code {
			return e.loadExpr(f, offset(p, fieldOffsets(t)[i]))
		}))}
	case isVariant(t):
		cs := cases(t)
		off := payloadOffset(t)
		return []jen.Code{e.variantSwitch(t, discLoad(len(cs), p), func(c Type) jen.Code {
			return e.loadExpr(c, offset(p, off))
		})}
	}
	switch k := t.(*Ref).Decl.Kind.(type) {
	case *Enum:
		return []jen.Code{jen.Return(e.goType(t).Call(cID().Dot("Disc").Call(discLoad(len(k.Cases), p), jen.Lit(len(k.Cases)))))}
	case *Flags:
		return e.flagsLift(t, k, func(i int) jen.Code { return cID().Dot("U32").Call(offset(p, uint32(4*i))) }, func() jen.Code {
			switch flagsSize(len(k.Flags)) {
			case 1:
				return cID().Dot("U8").Call(p)
			case 2:
				return cID().Dot("U16").Call(p)
			}
			return cID().Dot("U32").Call(p)
		})
	}
	fail("cannot load %s", witString(t))
	return nil
}

// flagsLift returns the statements lifting flags from 32-bit words word(i)
// (or, for up to 32 flags, the single value small()).
func (e *emitter) flagsLift(t Type, f *Flags, word func(int) jen.Code, small func() jen.Code) []jen.Code {
	typ := e.goType(t)
	if n := flagsWords(f); n > 0 {
		out := []jen.Code{jen.Var().Id("v").Add(typ)}
		for i := 0; i < n; i++ {
			out = append(out, jen.Id("v").Index(jen.Lit(i)).Op("=").Add(word(i)))
		}
		if r := len(f.Flags) % 32; r != 0 {
			out = append(out, jen.Id("v").Index(jen.Lit(n-1)).Op("&=").Lit(int(uint32(1)<<r-1)))
		}
		return append(out, jen.Return(jen.Id("v")))
	}
	mask := jen.Lit(int(flagsMask(f)))
	if len(f.Flags) == 64 {
		mask = jen.Qual("math", "MaxUint64")
	}
	if len(f.Flags) > 32 {
		return []jen.Code{jen.Return(typ.Call(jen.Uint64().Call(word(0)).Op("|").Uint64().Call(word(1)).Op("<<").Lit(32)).Op("&").Add(mask))}
	}
	return []jen.Code{jen.Return(typ.Call(small()).Op("&").Add(mask))}
}

// composite builds a record or tuple value with field i from field(i, type).
func (e *emitter) composite(t Type, field func(int, Type) jen.Code) jen.Code {
	vals := jen.Dict{}
	switch t := t.(type) {
	case *Tuple:
		for i, el := range t.Elems {
			vals[jen.Id(fmt.Sprintf("F%d", i))] = field(i, el)
		}
	case *Ref:
		for i, f := range t.Decl.Kind.(*Record).Fields {
			vals[jen.Id(f.GoName)] = field(i, f.Type)
		}
	}
	return e.goType(t).Values(vals)
}

// variantSwitch returns a switch on discriminant disc returning the
// variant-like t built from payload(caseType).
func (e *emitter) variantSwitch(t Type, disc jen.Code, payload func(Type) jen.Code) jen.Code {
	cs := cases(t)
	var clauses []jen.Code
	for i, ct := range cs {
		var ret jen.Code
		switch t := t.(type) {
		case *Option:
			if i == 0 {
				ret = jen.Qual(cabiPath, "None").Types(e.goType(t.Elem)).Call()
			} else {
				ret = jen.Qual(cabiPath, "Some").Types(e.goType(t.Elem)).Call(payload(ct))
			}
		case *Result:
			fn := "OK"
			if i == 1 {
				fn = "Err"
			}
			var arg jen.Code = jen.Qual(cabiPath, "Unit").Values()
			if ct != nil {
				arg = payload(ct)
			}
			ret = jen.Qual(cabiPath, fn).Types(e.orUnit(t.OK), e.orUnit(t.Err)).Call(arg)
		case *Ref:
			d := t.Decl
			c := d.Kind.(*Variant).Cases[i]
			vals := jen.Dict{jen.Id("Tag"): e.declRef(d, d.GoName+"Tag"+c.GoName)}
			if ct != nil {
				vals[jen.Id(c.GoName)] = payload(ct)
			}
			ret = e.goType(t).Values(vals)
		}
		if i == len(cs)-1 {
			clauses = append(clauses, jen.Default().Block(jen.Return(ret)))
		} else {
			clauses = append(clauses, jen.Case(jen.Lit(i)).Block(jen.Return(ret)))
		}
	}
	return jen.Switch(cID().Dot("Disc").Call(disc, jen.Lit(len(cs)))).Block(clauses...)
}

// liftExpr returns an expression lifting a t from the flattened values
// s[off:].
func (e *emitter) liftExpr(t Type, s jen.Code, off int) jen.Code {
	rt := resolve(t)
	if pr, ok := rt.(Prim); ok {
		return primLift(pr, s, off)
	}
	if l, ok := rt.(*List); ok {
		return e.listExpr(l.Elem, u32(slot(s, off)), u32(slot(s, off+1)))
	}
	if h, ok := rt.(*Handle); ok {
		return e.handleLift(h, u32(slot(s, off)))
	}
	name := e.helper("lift"+e.mangle(rt), func() jen.Code {
		return jen.Func().Id("lift"+e.mangle(rt)).Params(callParam, jen.Id("s").Index().Uint64()).Add(e.goType(rt)).Block(e.liftBody(rt)...)
	})
	arg := jen.Add(s)
	if off != 0 {
		arg = jen.Add(s).Index(jen.Lit(off), jen.Empty())
	}
	return jen.Id(name).Call(cID(), arg)
}

// liftBody is the body of the lift helper of a compound type.
func (e *emitter) liftBody(t Type) []jen.Code {
	s := jen.Id("s")
	switch {
	case isRecord(t):
		offs := []int{}
		n := 0
		for _, f := range fields(t) {
			offs = append(offs, n)
			n += len(flat(f))
		}
		return []jen.Code{jen.Return(e.composite(t, func(i int, f Type) jen.Code {
			return e.liftExpr(f, s, offs[i])
		}))}
	case isVariant(t):
		// Every case's flattening is a prefix of the joined flattening, and
		// wazero's uint64 encoding of a joined slot (i32 zero-extended, f32
		// bits, i64, f64 bits) reads back as each case's own type, so cases
		// lift from s[1:] as they are. See CanonicalABI.md, "Flattening".
		return []jen.Code{e.variantSwitch(t, u32(slot(s, 0)), func(c Type) jen.Code {
			return e.liftExpr(c, s, 1)
		})}
	}
	switch k := t.(*Ref).Decl.Kind.(type) {
	case *Enum:
		return []jen.Code{jen.Return(e.goType(t).Call(cID().Dot("Disc").Call(u32(slot(s, 0)), jen.Lit(len(k.Cases)))))}
	case *Flags:
		return e.flagsLift(t, k, func(i int) jen.Code { return u32(slot(s, i)) }, func() jen.Code { return slot(s, 0) })
	}
	fail("cannot lift %s", witString(t))
	return nil
}
