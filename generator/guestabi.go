package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// The guest's Canonical ABI code: values are read and written in the
// guest's own linear memory through unsafe pointers, at the offsets abi.go
// computes, and lowered to the flattened core values of abi.go's flat.
// Helpers are generated once per type and package, named after the type
// (load*, store*, flat*, lowerList*).

// unsafeAt returns p+off as an unsafe.Pointer expression.
func unsafeAt(p jen.Code, off uint32) jen.Code {
	if off == 0 {
		return p
	}
	return jen.Qual("unsafe", "Add").Call(p, jen.Lit(int(off)))
}

// deref returns *(*T)(p).
func deref(t jen.Code, p jen.Code) *jen.Statement {
	return jen.Op("*").Parens(jen.Op("*").Add(t)).Parens(p)
}

// memIdentical reports whether the Go form of t is its memory form, so that
// a value or a list of them is read and written in place.
func memIdentical(t Type) bool { return memForm(t, false) }

// memForm is memIdentical for t, a field of a record or tuple when inner.
func memForm(t Type, inner bool) bool {
	switch t := resolve(t).(type) {
	case Prim:
		return t != String
	case *Handle:
		// A borrow of a resource the guest implements is its rep, lifted
		// to the implementation.
		return t.Own || guestRes(t) == nil
	case *Ref:
		switch k := t.Decl.Kind.(type) {
		case *Enum:
			return true
		case *Flags:
			// 33 to 64 flags are a Go uint64, 8-aligned, where the ABI
			// has two 4-aligned words: alone the same bytes, but a record
			// or tuple holding one lays out differently.
			return !inner || len(k.Flags) <= 32 || len(k.Flags) > 64
		}
	case *List, *Option, *Result:
		return false
	}
	if isRecord(t) {
		for _, f := range fields(t) {
			if !memForm(f, true) {
				return false
			}
		}
		return true
	}
	return false
}

// unsafePtr returns unsafe.Pointer(x).
func unsafePtr(x jen.Code) *jen.Statement { return jen.Qual("unsafe", "Pointer").Call(x) }

// gAddr returns cabi.Addr(p): the address of Go memory passed to an import.
func gAddr(p jen.Code) *jen.Statement { return jen.Qual(guestCabiPath, "Addr").Call(p) }

// gDisc loads the discriminant of a variant of n cases at p, as uint32.
func gDisc(n int, p jen.Code) *jen.Statement {
	switch discSize(n) {
	case 1:
		return jen.Uint32().Call(deref(jen.Uint8(), p))
	case 2:
		return jen.Uint32().Call(deref(jen.Uint16(), p))
	}
	return deref(jen.Uint32(), p)
}

// gDiscStore stores discriminant d of a variant of n cases at p.
func gDiscStore(n int, p jen.Code, d jen.Code) jen.Code {
	return deref(uintType(discSize(n)), p).Op("=").Add(uintType(discSize(n))).Call(d)
}

// gLoad returns the Go value of type t in guest memory at p.
func (e *emitter) gLoad(t Type, p jen.Code) jen.Code {
	if memIdentical(t) {
		return deref(e.goType(t), p)
	}
	switch rt := resolve(t).(type) {
	case Prim: // string
		return jen.Qual(guestCabiPath, "LiftString").Call(deref(jen.Uint32(), p), deref(jen.Uint32(), unsafeAt(p, 4)))
	case *List:
		return e.gLoadList(rt, deref(jen.Uint32(), p), deref(jen.Uint32(), unsafeAt(p, 4)))
	case *Handle:
		return e.implOf(rt, deref(jen.Uint32(), p))
	}
	name := e.helper("load"+e.mangle(t), func() jen.Code {
		return jen.Func().Id("load" + e.mangle(t)).Params(jen.Id("p").Qual("unsafe", "Pointer")).Add(e.goType(t)).Block(e.gLoadBody(t)...)
	})
	return jen.Id(name).Call(p)
}

// gLoadList returns the Go value of the list l of n elements at address
// ptr (uint32 expressions): copied, or the region offered with cabi.Offer.
func (e *emitter) gLoadList(l *List, ptr, n jen.Code) jen.Code {
	if memIdentical(l.Elem) {
		return jen.Qual(guestCabiPath, "LiftList").Types(e.goType(l.Elem)).Call(ptr, n)
	}
	name := e.helper("loadList"+e.mangle(l.Elem), func() jen.Code {
		es := size(l.Elem)
		return jen.Func().Id("loadList"+e.mangle(l.Elem)).Params(jen.Id("ptr"), jen.Id("n").Uint32()).Add(e.goType(l)).Block(
			jen.If(jen.Id("n").Op("==").Lit(0)).Block(jen.Return(jen.Nil())),
			jen.Id("out").Op(":=").Make(e.goType(l), jen.Id("n")),
			jen.Id("base").Op(":=").Qual(guestCabiPath, "Ptr").Call(jen.Id("ptr")),
			jen.For(jen.Id("i").Op(":=").Range().Id("out")).Block(
				jen.Id("out").Index(jen.Id("i")).Op("=").Add(e.gLoad(l.Elem,
					jen.Qual("unsafe", "Add").Call(jen.Id("base"), jen.Id("i").Op("*").Lit(int(es))))),
			),
			jen.Return(jen.Id("out")),
		)
	})
	return jen.Id(name).Call(ptr, n)
}

// gLoadBody is the body of the load helper of a composite type.
func (e *emitter) gLoadBody(t Type) []jen.Code {
	p := jen.Id("p")
	switch rt := resolve(t).(type) {
	case *Option:
		return []jen.Code{
			jen.If(gDisc(2, p).Op("==").Lit(0)).Block(jen.Return(jen.Qual(witvalPath, "None").Types(e.goType(rt.Elem)).Call())),
			jen.Return(jen.Qual(witvalPath, "Some").Call(e.gLoad(rt.Elem, unsafeAt(p, payloadOffset(rt))))),
		}
	case *Result:
		ts := []jen.Code{e.orUnit(rt.OK), e.orUnit(rt.Err)}
		val := func(c Type) jen.Code {
			if c == nil {
				return jen.Qual(witvalPath, "Unit").Values()
			}
			return e.gLoad(c, unsafeAt(p, payloadOffset(rt)))
		}
		return []jen.Code{
			jen.If(gDisc(2, p).Op("==").Lit(0)).Block(jen.Return(jen.Qual(witvalPath, "OK").Types(ts...).Call(val(rt.OK)))),
			jen.Return(jen.Qual(witvalPath, "Err").Types(ts...).Call(val(rt.Err))),
		}
	case *Tuple:
		vals := jen.Dict{}
		for k, off := range fieldOffsets(rt) {
			vals[jen.Id(fmt.Sprintf("F%d", k))] = e.gLoad(rt.Elems[k], unsafeAt(p, off))
		}
		return []jen.Code{jen.Return(e.goType(t).Values(vals))}
	case *Ref:
		switch k := rt.Decl.Kind.(type) {
		case *Record:
			vals := jen.Dict{}
			offs := fieldOffsets(rt)
			for n, f := range k.Fields {
				vals[jen.Id(f.GoName)] = e.gLoad(f.Type, unsafeAt(p, offs[n]))
			}
			return []jen.Code{jen.Return(e.goType(t).Values(vals))}
		case *Variant:
			d := rt.Decl
			tag := d.GoName + "Tag"
			body := []jen.Code{
				jen.Var().Id("v").Add(e.goType(t)),
				jen.Id("v").Dot("Tag").Op("=").Add(e.declRef(d, tag)).Call(gDisc(len(k.Cases), p)),
			}
			var cs []jen.Code
			for _, c := range k.Cases {
				if c.Type == nil {
					continue
				}
				cs = append(cs, jen.Case(e.declRef(d, tag+c.GoName)).Block(
					jen.Id("v").Dot(c.GoName).Op("=").Add(e.gLoad(c.Type, unsafeAt(p, payloadOffset(rt))))))
			}
			if len(cs) > 0 {
				body = append(body, jen.Switch(jen.Id("v").Dot("Tag")).Block(cs...))
			}
			return append(body, jen.Return(jen.Id("v")))
		}
	}
	fail("guest: no load for %s", witString(t))
	return nil
}

// gStore returns the statement storing Go value v of type t in guest
// memory at p; memory it refers to is kept alive by cabi.Addr.
func (e *emitter) gStore(t Type, p, v jen.Code) jen.Code {
	if memIdentical(t) {
		return deref(e.goType(t), p).Op("=").Add(v)
	}
	name := e.helper("store"+e.mangle(t), func() jen.Code {
		return jen.Func().Id("store"+e.mangle(t)).Params(jen.Id("p").Qual("unsafe", "Pointer"), jen.Id("v").Add(e.goType(t))).Block(e.gStoreBody(t)...)
	})
	return jen.Id(name).Call(p, v)
}

// gStoreBody is the body of the store helper of a type.
func (e *emitter) gStoreBody(t Type) []jen.Code {
	p, v := jen.Id("p"), jen.Id("v")
	switch rt := resolve(t).(type) {
	case Prim: // string
		return []jen.Code{
			deref(jen.Uint32(), p).Op("=").Add(gAddr(unsafePtr(jen.Qual("unsafe", "StringData").Call(v)))),
			deref(jen.Uint32(), unsafeAt(p, 4)).Op("=").Uint32().Call(jen.Len(v)),
		}
	case *List:
		return []jen.Code{
			deref(jen.Uint32(), p).Op("=").Add(e.gListAddr(rt, v)),
			deref(jen.Uint32(), unsafeAt(p, 4)).Op("=").Uint32().Call(jen.Len(v)),
		}
	case *Option:
		return []jen.Code{jen.If(jen.Id("v").Dot("IsSome").Call()).Block(
			gDiscStore(2, p, jen.Lit(1)),
			e.gStore(rt.Elem, unsafeAt(p, payloadOffset(rt)), jen.Id("v").Dot("Value").Call()),
		).Else().Block(gDiscStore(2, p, jen.Lit(0)))}
	case *Result:
		okName, errName := jen.Id("_"), jen.Id("_")
		var okBody, errBody []jen.Code
		okBody = append(okBody, gDiscStore(2, p, jen.Lit(0)))
		errBody = append(errBody, gDiscStore(2, p, jen.Lit(1)))
		if rt.OK != nil {
			okName = jen.Id("ok")
			okBody = append(okBody, e.gStore(rt.OK, unsafeAt(p, payloadOffset(rt)), jen.Id("ok")))
		}
		if rt.Err != nil {
			errName = jen.Id("err")
			errBody = append(errBody, e.gStore(rt.Err, unsafeAt(p, payloadOffset(rt)), jen.Id("err")))
		}
		return []jen.Code{
			jen.List(okName, errName, jen.Id("isErr")).Op(":=").Add(v).Dot("Get").Call(),
			jen.If(jen.Id("isErr")).Block(errBody...).Else().Block(okBody...),
		}
	case *Tuple:
		var out []jen.Code
		for k, off := range fieldOffsets(rt) {
			out = append(out, e.gStore(rt.Elems[k], unsafeAt(p, off), jen.Add(v).Dot(fmt.Sprintf("F%d", k))))
		}
		return out
	case *Ref:
		switch k := rt.Decl.Kind.(type) {
		case *Record:
			var out []jen.Code
			offs := fieldOffsets(rt)
			for n, f := range k.Fields {
				out = append(out, e.gStore(f.Type, unsafeAt(p, offs[n]), jen.Add(v).Dot(f.GoName)))
			}
			return out
		case *Variant:
			d := rt.Decl
			var cs []jen.Code
			for _, c := range k.Cases {
				if c.Type == nil {
					continue
				}
				cs = append(cs, jen.Case(e.declRef(d, d.GoName+"Tag"+c.GoName)).Block(
					e.gStore(c.Type, unsafeAt(p, payloadOffset(rt)), jen.Add(v).Dot(c.GoName))))
			}
			out := []jen.Code{gDiscStore(len(k.Cases), p, jen.Add(v).Dot("Tag"))}
			if len(cs) > 0 {
				out = append(out, jen.Switch(jen.Add(v).Dot("Tag")).Block(cs...))
			}
			return out
		}
	}
	fail("guest: no store for %s", witString(t))
	return nil
}

// gListAddr returns the address of the memory form of list v: the Go
// slice itself when its elements are their memory form, else a block the
// elements are stored into (cabi.Scratch: the arena inside an import, so
// that the call allocates nothing).
func (e *emitter) gListAddr(l *List, v jen.Code) jen.Code {
	if memIdentical(l.Elem) {
		return gAddr(unsafePtr(jen.Qual("unsafe", "SliceData").Call(v)))
	}
	name := e.helper("lowerList"+e.mangle(l.Elem), func() jen.Code {
		es := int(size(l.Elem))
		return jen.Func().Id("lowerList"+e.mangle(l.Elem)).Params(jen.Id("v").Add(e.goType(l))).Uint32().Block(
			jen.If(jen.Len(jen.Id("v")).Op("==").Lit(0)).Block(jen.Return(jen.Lit(0))),
			jen.Id("block").Op(":=").Qual(guestCabiPath, "Scratch").Call(jen.Uint32().Call(jen.Len(jen.Id("v")).Op("*").Lit(es))),
			jen.For(jen.List(jen.Id("i"), jen.Id("x")).Op(":=").Range().Id("v")).Block(
				e.gStore(l.Elem, jen.Qual("unsafe", "Add").Call(jen.Id("block"), jen.Id("i").Op("*").Lit(es)), jen.Id("x")),
			),
			jen.Return(gAddr(jen.Id("block"))),
		)
	})
	return jen.Id(name).Call(v)
}

// newTmp returns a fresh local name.
func (e *emitter) newTmp() string {
	e.tmp++
	return fmt.Sprintf("x%d", e.tmp)
}

// gFlat lowers Go value v of type t to its flattened core values: the
// statements computing them and the values, typed as coreGo.
func (e *emitter) gFlat(t Type, v jen.Code) (stmts, vals []jen.Code) {
	switch rt := resolve(t).(type) {
	case Prim:
		switch rt {
		case Bool:
			return nil, []jen.Code{jen.Qual(guestCabiPath, "Bool").Call(v)}
		case S64, U64:
			return nil, []jen.Code{jen.Uint64().Call(v)}
		case F32:
			return nil, []jen.Code{jen.Float32().Call(v)}
		case F64:
			return nil, []jen.Code{jen.Float64().Call(v)}
		case String:
			return nil, []jen.Code{gAddr(unsafePtr(jen.Qual("unsafe", "StringData").Call(v))), jen.Uint32().Call(jen.Len(v))}
		}
		return nil, []jen.Code{jen.Uint32().Call(v)}
	case *List:
		return nil, []jen.Code{e.gListAddr(rt, v), jen.Uint32().Call(jen.Len(v))}
	case *Handle:
		return nil, []jen.Code{jen.Uint32().Call(v)}
	case *Tuple:
		for k, el := range rt.Elems {
			s, vs := e.gFlat(el, jen.Add(v).Dot(fmt.Sprintf("F%d", k)))
			stmts, vals = append(stmts, s...), append(vals, vs...)
		}
		return stmts, vals
	case *Ref:
		switch k := rt.Decl.Kind.(type) {
		case *Enum:
			return nil, []jen.Code{jen.Uint32().Call(v)}
		case *Flags:
			switch n := len(k.Flags); {
			case n == 0:
				return nil, nil
			case n <= 32:
				return nil, []jen.Code{jen.Uint32().Call(v)}
			case n <= 64:
				return nil, []jen.Code{jen.Uint32().Call(v), jen.Uint32().Call(jen.Add(v).Op(">>").Lit(32))}
			}
			for w := 0; w < flagsWords(k); w++ {
				vals = append(vals, jen.Add(v).Index(jen.Lit(w)))
			}
			return nil, vals
		case *Record:
			for _, f := range k.Fields {
				s, vs := e.gFlat(f.Type, jen.Add(v).Dot(f.GoName))
				stmts, vals = append(stmts, s...), append(vals, vs...)
			}
			return stmts, vals
		}
	}
	if !isVariant(t) {
		fail("guest: no lowering for %s", witString(t))
	}
	cores := flat(t)
	name := e.helper("flat"+e.mangle(t), func() jen.Code {
		var res []jen.Code
		for k, c := range cores {
			res = append(res, jen.Id(fmt.Sprintf("r%d", k)).Add(coreGo(c)))
		}
		return jen.Func().Id("flat" + e.mangle(t)).Params(jen.Id("v").Add(e.goType(t))).Params(res...).Block(e.gFlatVariant(t, cores)...)
	})
	var names []jen.Code
	for range cores {
		names = append(names, jen.Id(e.newTmp()))
	}
	stmts = append(stmts, jen.List(names...).Op(":=").Id(name).Call(v))
	return stmts, names
}

// gFlatVariant is the body of the flat helper of a variant-like type: the
// discriminant, then the case's payload converted to the joined core types.
func (e *emitter) gFlatVariant(t Type, cores []Core) []jen.Code {
	v := jen.Id("v")
	payload := func(disc int, c Type, val jen.Code) []jen.Code {
		out := []jen.Code{jen.Id("r0").Op("=").Lit(disc)}
		if c == nil {
			return out
		}
		s, vals := e.gFlat(c, val)
		out = append(out, s...)
		for j, pc := range flat(c) {
			out = append(out, jen.Id(fmt.Sprintf("r%d", j+1)).Op("=").Add(coreConv(pc, cores[j+1], vals[j])))
		}
		return out
	}
	var body []jen.Code
	switch rt := resolve(t).(type) {
	case *Option:
		body = append(body, jen.If(jen.Add(v).Dot("IsSome").Call()).Block(payload(1, rt.Elem, jen.Add(v).Dot("Value").Call())...))
	case *Result:
		okName, errName := jen.Id("_"), jen.Id("_")
		if rt.OK != nil {
			okName = jen.Id("ok")
		}
		if rt.Err != nil {
			errName = jen.Id("err")
		}
		body = append(body,
			jen.List(okName, errName, jen.Id("isErr")).Op(":=").Add(v).Dot("Get").Call(),
			jen.If(jen.Id("isErr")).Block(payload(1, rt.Err, jen.Id("err"))...).Else().Block(payload(0, rt.OK, jen.Id("ok"))...))
	case *Ref:
		k := rt.Decl.Kind.(*Variant)
		d := rt.Decl
		var cs []jen.Code
		for n, c := range k.Cases {
			cs = append(cs, jen.Case(e.declRef(d, d.GoName+"Tag"+c.GoName)).Block(payload(n, c.Type, jen.Add(v).Dot(c.GoName))...))
		}
		body = append(body, jen.Switch(jen.Add(v).Dot("Tag")).Block(cs...))
	}
	return append(body, jen.Return())
}

// coreConv converts core value x of type from to the joined type to.
func coreConv(from, to Core, x jen.Code) jen.Code {
	switch {
	case from == to:
		return x
	case from == I32 && to == I64:
		return jen.Uint64().Call(x)
	case from == CF32 && to == I32:
		return jen.Qual("math", "Float32bits").Call(x)
	case from == CF32 && to == I64:
		return jen.Uint64().Call(jen.Qual("math", "Float32bits").Call(x))
	case from == CF64 && to == I64:
		return jen.Qual("math", "Float64bits").Call(x)
	}
	fail("guest: no conversion of a core value from %d to %d", from, to)
	return nil
}

// gLiftFlat lifts the single flattened result x (core type c) of type t.
func (e *emitter) gLiftFlat(t Type, c Core, x jen.Code) jen.Code {
	switch rt := resolve(t).(type) {
	case Prim:
		if rt == Bool {
			return jen.Add(x).Op("!=").Lit(0)
		}
		return e.goType(t).Call(x)
	case *Handle:
		return e.goType(t).Call(x)
	case *Ref:
		switch k := rt.Decl.Kind.(type) {
		case *Enum:
			return e.goType(t).Call(x)
		case *Flags:
			if len(k.Flags) <= 32 {
				return e.goType(t).Call(x)
			}
		}
	}
	// A record of one field or a variant without payloads: its memory form
	// is the core value stored at offset 0.
	return jen.Func().Params().Add(e.goType(t)).Block(
		jen.Var().Id("b").Uint64(),
		deref(coreGo(c), unsafePtr(jen.Op("&").Id("b"))).Op("=").Add(x),
		jen.Return(e.gLoad(t, unsafePtr(jen.Op("&").Id("b")))),
	).Call()
}
