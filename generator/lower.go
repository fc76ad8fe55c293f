package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// Lowering: Go values returned by the host to guest values, stored in
// memory (store helpers, with cabi_realloc for strings and lists) or as the
// single flattened result.

// discStore stores discriminant d of a variant with n cases at p.
func discStore(n int, p jen.Code, d jen.Code) jen.Code {
	switch discSize(n) {
	case 1:
		return cID().Dot("PutU8").Call(p, jen.Uint8().Call(d))
	case 2:
		return cID().Dot("PutU16").Call(p, jen.Uint16().Call(d))
	}
	return cID().Dot("PutU32").Call(p, u32(d))
}

// primStore stores primitive t from v at p.
func primStore(t Prim, p, v jen.Code) jen.Code {
	c := cID
	switch t {
	case Bool:
		return c().Dot("PutU8").Call(p, jen.Uint8().Call(jen.Qual(cabiPath, "BoolU32").Call(v)))
	case S8, U8:
		return c().Dot("PutU8").Call(p, jen.Uint8().Call(v))
	case S16, U16:
		return c().Dot("PutU16").Call(p, jen.Uint16().Call(v))
	case S32, U32:
		return c().Dot("PutU32").Call(p, u32(v))
	case S64, U64:
		return c().Dot("PutU64").Call(p, jen.Uint64().Call(v))
	case F32:
		return c().Dot("PutF32").Call(p, v)
	case F64:
		return c().Dot("PutF64").Call(p, v)
	case Char:
		return c().Dot("PutU32").Call(p, c().Dot("CharU32").Call(v))
	case String:
		return c().Dot("PutString").Call(p, v)
	}
	panic("unreachable")
}

// handleLower returns the u32 expression lowering handle v, an h, into
// the guest: an own<R> of a host resource enters the table, a borrow<R>
// of one is lent for the export call; a resource the guest implements is
// given back (own) or passed as its rep (borrow).
func (e *emitter) handleLower(h *Handle, v jen.Code) jen.Code {
	res, err := e.resourceType(h.Res)
	if err != nil {
		fail("%v", err)
	}
	if guestRes(h) != nil {
		op := "LendRep"
		if h.Own {
			op = "GiveRep"
		}
		return cID().Dot(op).Call(jen.Add(v).Dot("guest").Call(), res)
	}
	if !h.Own {
		if !e.i.Exported {
			fail("borrow<%s> cannot be returned to the guest", h.Res.Name)
		}
		return cID().Dot("Lend").Call(v, res)
	}
	return cID().Dot("Own").Call(v, res)
}

// storeStmt returns a statement storing v, a t, at address p.
func (e *emitter) storeStmt(t Type, p, v jen.Code) jen.Code {
	rt := resolve(t)
	switch rt := rt.(type) {
	case Prim:
		return primStore(rt, p, v)
	case *List:
		if resolve(rt.Elem) == U8 {
			return cID().Dot("PutBytes").Call(p, v)
		}
	case *Handle:
		return cID().Dot("PutU32").Call(p, e.handleLower(rt, v))
	}
	name := "store" + e.mangle(rt)
	e.helper(name, func() jen.Code {
		return jen.Func().Id(name).Params(callParam, jen.Id("p").Uint32(), jen.Id("v").Add(e.goType(rt))).Block(e.storeBody(rt)...)
	})
	return jen.Id(name).Call(cID(), p, v)
}

// storeBody is the body of the store helper of a compound type.
func (e *emitter) storeBody(t Type) []jen.Code {
	p, v := jen.Id("p"), jen.Id("v")
	switch t := t.(type) {
	case *List:
		return append(e.allocList(t, v),
			cID().Dot("PutU32").Call(p, jen.Id("q")),
			cID().Dot("PutU32").Call(offset(p, 4), u32(jen.Len(v))),
		)
	case *Option:
		return []jen.Code{
			jen.If(jen.List(jen.Id("x"), jen.Id("ok")).Op(":=").Add(v).Dot("Get").Call(), jen.Id("ok")).Block(
				discStore(2, p, jen.Lit(1)),
				e.storeStmt(t.Elem, offset(p, payloadOffset(t)), jen.Id("x")),
			).Else().Block(discStore(2, p, jen.Lit(0))),
		}
	case *Result:
		okID, errID := jen.Id("_"), jen.Id("_")
		var okStore, errStore []jen.Code
		if t.OK != nil {
			okID = jen.Id("x")
			okStore = append(okStore, e.storeStmt(t.OK, offset(p, payloadOffset(t)), jen.Id("x")))
		}
		if t.Err != nil {
			errID = jen.Id("y")
			errStore = append(errStore, e.storeStmt(t.Err, offset(p, payloadOffset(t)), jen.Id("y")))
		}
		return []jen.Code{
			jen.If(jen.List(okID, errID, jen.Id("isErr")).Op(":=").Add(v).Dot("Get").Call(), jen.Id("isErr")).Block(
				append([]jen.Code{discStore(2, p, jen.Lit(1))}, errStore...)...,
			).Else().Block(
				append([]jen.Code{discStore(2, p, jen.Lit(0))}, okStore...)...,
			),
		}
	case *Tuple:
		var out []jen.Code
		offs := fieldOffsets(t)
		for i, el := range t.Elems {
			out = append(out, e.storeStmt(el, offset(p, offs[i]), jen.Add(v).Dot(fmt.Sprintf("F%d", i))))
		}
		return out
	case *Ref:
		d := t.Decl
		switch k := d.Kind.(type) {
		case *Record:
			var out []jen.Code
			offs := fieldOffsets(t)
			for i, f := range k.Fields {
				out = append(out, e.storeStmt(f.Type, offset(p, offs[i]), jen.Add(v).Dot(f.GoName)))
			}
			return out
		case *Variant:
			var clauses []jen.Code
			off := payloadOffset(t)
			for i, c := range k.Cases {
				body := []jen.Code{discStore(len(k.Cases), p, jen.Lit(i))}
				if c.Type != nil {
					body = append(body, e.storeStmt(c.Type, offset(p, off), jen.Add(v).Dot(c.GoName)))
				}
				clauses = append(clauses, jen.Case(e.declRef(d, d.GoName+"Tag"+c.GoName)).Block(body...))
			}
			clauses = append(clauses, jen.Default().Block(
				cID().Dot("Trapf").Call(jen.Lit("host returned a "+d.Name+" with bad tag %d"), jen.Add(v).Dot("Tag"))))
			return []jen.Code{jen.Switch(jen.Add(v).Dot("Tag")).Block(clauses...)}
		case *Enum:
			return []jen.Code{discStore(len(k.Cases), p, cID().Dot("Disc").Call(u32(v), jen.Lit(len(k.Cases))))}
		case *Flags:
			if n := flagsWords(k); n > 0 {
				var out []jen.Code
				for i := 0; i < n; i++ {
					out = append(out, cID().Dot("PutU32").Call(offset(p, uint32(4*i)), jen.Add(v).Index(jen.Lit(i))))
				}
				return out
			}
			switch flagsSize(len(k.Flags)) {
			case 1:
				return []jen.Code{cID().Dot("PutU8").Call(p, jen.Uint8().Call(v))}
			case 2:
				return []jen.Code{cID().Dot("PutU16").Call(p, jen.Uint16().Call(v))}
			case 4:
				return []jen.Code{cID().Dot("PutU32").Call(p, u32(v))}
			}
			return []jen.Code{
				cID().Dot("PutU32").Call(p, u32(v)),
				cID().Dot("PutU32").Call(offset(p, 4), u32(jen.Add(v).Op(">>").Lit(32))),
			}
		}
	}
	fail("cannot store %s", witString(t))
	return nil
}

// allocList returns the statements storing the elements of v, a list t,
// in guest memory allocated for them, its address in q.
func (e *emitter) allocList(t *List, v jen.Code) []jen.Code {
	sz := size(t.Elem)
	return []jen.Code{
		jen.Id("q").Op(":=").Add(cID().Dot("AllocList").Call(jen.Len(v), jen.Lit(int(sz)), jen.Lit(int(alignment(t.Elem))))),
		jen.For(jen.Id("i").Op(":=").Range().Add(v)).Block(
			e.storeStmt(t.Elem, jen.Id("q").Op("+").Uint32().Call(jen.Id("i")).Op("*").Lit(int(sz)), jen.Add(v).Index(jen.Id("i"))),
		),
	}
}

// lowerFlat returns the uint64 stack encoding of v, a t whose flattening is
// a single core value.
func (e *emitter) lowerFlat(t Type, v jen.Code) jen.Code {
	rt := resolve(t)
	switch rt := rt.(type) {
	case Prim:
		switch rt {
		case Bool:
			return jen.Uint64().Call(jen.Qual(cabiPath, "BoolU32").Call(v))
		case S8, S16, S32:
			return jen.Uint64().Call(u32(v))
		case U8, U16, U32, S64:
			return jen.Uint64().Call(v)
		case U64:
			return v
		case F32:
			return jen.Uint64().Call(jen.Qual("math", "Float32bits").Call(v))
		case F64:
			return jen.Qual("math", "Float64bits").Call(v)
		case Char:
			return jen.Uint64().Call(cID().Dot("CharU32").Call(v))
		}
	case *Handle:
		return jen.Uint64().Call(e.handleLower(rt, v))
	case *Tuple:
		if len(rt.Elems) == 1 {
			return e.lowerFlat(rt.Elems[0], jen.Add(v).Dot("F0"))
		}
	case *Result:
		if rt.OK == nil && rt.Err == nil {
			return jen.Uint64().Call(jen.Qual(cabiPath, "BoolU32").Call(jen.Add(v).Dot("IsErr").Call()))
		}
	case *Ref:
		switch k := rt.Decl.Kind.(type) {
		case *Enum:
			return jen.Uint64().Call(cID().Dot("Disc").Call(u32(v), jen.Lit(len(k.Cases))))
		case *Flags:
			if len(k.Flags) <= 32 {
				return jen.Uint64().Call(v)
			}
		case *Record:
			if len(k.Fields) == 1 {
				return e.lowerFlat(k.Fields[0].Type, jen.Add(v).Dot(k.Fields[0].GoName))
			}
		case *Variant:
			return jen.Uint64().Call(cID().Dot("Disc").Call(u32(jen.Add(v).Dot("Tag")), jen.Lit(len(k.Cases))))
		}
	}
	fail("cannot lower %s to one core value", witString(t))
	return nil
}

// reserveStmt returns a statement reserving, in store order, every own
// handle inside v, a t (see cabi.Call.Reserve).
func (e *emitter) reserveStmt(t Type, v jen.Code) jen.Code {
	rt := resolve(t)
	if h, ok := rt.(*Handle); ok {
		res, err := e.resourceType(h.Res)
		if err != nil {
			fail("%v", err)
		}
		return cID().Dot("Reserve").Call(v, res)
	}
	name := "reserve" + e.mangle(rt)
	e.helper(name, func() jen.Code {
		return jen.Func().Id(name).Params(callParam, jen.Id("v").Add(e.goType(rt))).Block(e.reserveBody(rt)...)
	})
	return jen.Id(name).Call(cID(), v)
}

// resultVisit returns the statements visiting, in result v, a t, the side
// present when holds says its type needs it: visit(side type, value).
func resultVisit(t *Result, v jen.Code, holds func(Type) bool, visit func(Type, jen.Code) jen.Code) []jen.Code {
	okID, errID := jen.Id("_"), jen.Id("_")
	var okPart, errPart []jen.Code
	if t.OK != nil && holds(t.OK) {
		okID = jen.Id("x")
		okPart = append(okPart, visit(t.OK, jen.Id("x")))
	}
	if t.Err != nil && holds(t.Err) {
		errID = jen.Id("y")
		errPart = append(errPart, visit(t.Err, jen.Id("y")))
	}
	get := jen.List(okID, errID, jen.Id("isErr")).Op(":=").Add(v).Dot("Get").Call()
	switch {
	case len(okPart) == 0:
		return []jen.Code{jen.If(get, jen.Id("isErr")).Block(errPart...)}
	case len(errPart) == 0:
		return []jen.Code{jen.If(get, jen.Op("!").Id("isErr")).Block(okPart...)}
	}
	return []jen.Code{jen.If(get, jen.Id("isErr")).Block(errPart...).Else().Block(okPart...)}
}

// reserveBody is the body of the reserve helper of a compound type: it
// visits the parts holding own handles in the order storeBody stores them.
func (e *emitter) reserveBody(t Type) []jen.Code {
	v := jen.Id("v")
	var out []jen.Code
	switch t := t.(type) {
	case *List:
		return []jen.Code{jen.For(jen.List(jen.Id("_"), jen.Id("x")).Op(":=").Range().Add(v)).Block(e.reserveStmt(t.Elem, jen.Id("x")))}
	case *Option:
		return []jen.Code{jen.If(jen.List(jen.Id("x"), jen.Id("ok")).Op(":=").Add(v).Dot("Get").Call(), jen.Id("ok")).Block(e.reserveStmt(t.Elem, jen.Id("x")))}
	case *Result:
		return resultVisit(t, v, holdsOwn, e.reserveStmt)
	case *Tuple:
		for i, el := range t.Elems {
			if holdsOwn(el) {
				out = append(out, e.reserveStmt(el, jen.Add(v).Dot(fmt.Sprintf("F%d", i))))
			}
		}
		return out
	case *Ref:
		d := t.Decl
		switch k := d.Kind.(type) {
		case *Record:
			for _, f := range k.Fields {
				if holdsOwn(f.Type) {
					out = append(out, e.reserveStmt(f.Type, jen.Add(v).Dot(f.GoName)))
				}
			}
			return out
		case *Variant:
			var clauses []jen.Code
			for _, c := range k.Cases {
				if c.Type != nil && holdsOwn(c.Type) {
					clauses = append(clauses, jen.Case(e.declRef(d, d.GoName+"Tag"+c.GoName)).Block(e.reserveStmt(c.Type, jen.Add(v).Dot(c.GoName))))
				}
			}
			return []jen.Code{jen.Switch(jen.Add(v).Dot("Tag")).Block(clauses...)}
		}
	}
	fail("cannot reserve the handles of %s", witString(t))
	return nil
}
