package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
	"go.bytecodealliance.org/wit"
)

// Guest exports: the host calls functions the guest implements. For an
// interface the world exports, the guest package declares Exports (one
// method per function, in the same Go shape as the imports' wrappers) and
// SetExports, and per function a //go:wasmexport function under the
// canonical name "ns:pkg/iface@version#func" (exportCore's signature) that
// lifts the flat arguments (or the spilled ones from memory), calls the
// implementation, and lowers the result to a core value or into a static
// return area sized from the layout, whose address it returns. Strings and
// lists of the result stay reachable (cabi.Addr) until the host has read
// them and calls cabi_post_ns:pkg/iface@version#func, which releases them
// and the blocks cabi_realloc handed out for the arguments.

// guestExports emits Exports, SetExports and the exported functions of
// the interface.
func (e *emitter) guestExports() (code []jen.Code, err error) {
	defer func() {
		if r := recover(); r != nil {
			ge, ok := r.(genError)
			if !ok {
				panic(r)
			}
			err = ge.err
		}
	}()
	e.checkExportable()
	var methods []jen.Code
	for _, f := range e.i.Funcs {
		if f.Kind == Method {
			continue // a method of the resource's Impl
		}
		methods = append(methods, comments(funcSentence(f, "implements"), f.Docs, f.WIT)...)
		methods = append(methods, jen.Id(f.GoName).Params(e.guestParams(f, 0)...).Add(e.guestResults(f)))
	}
	code = append(code,
		jen.Comment(fmt.Sprintf("Exports is what the guest implements for %s; register it with SetExports", e.qualifiedName())).Line().
			Comment("before the host calls any export: in init, since a reactor's main does not run.").Line().
			Type().Id("Exports").Interface(methods...),
		jen.Var().Id("exports").Id("Exports"),
		jen.Comment("SetExports sets the implementation the exported functions call.").Line().
			Func().Id("SetExports").Params(jen.Id("impl").Id("Exports")).Block(jen.Id("exports").Op("=").Id("impl")),
	)
	for _, d := range e.guestResources() {
		code = append(code, e.guestImplGlue(d)...)
	}
	for _, f := range e.i.Funcs {
		code = append(code, e.guestExport(f)...)
	}
	return code, nil
}

// guestExport emits the //go:wasmexport function of f and its post-return.
func (e *emitter) guestExport(f *Func) []jen.Code {
	e.tmp = 0
	name := e.qualifiedName() + "#" + f.WITName
	fn := "export" + guestFuncName(f)
	pcores, results := exportCore(f)
	_, spilled := flatParams(f)
	_, retptr := flatResults(f)

	var params, body, args []jen.Code
	if spilled {
		params = append(params, jen.Id("args").Uint32())
		offs := fieldOffsets(paramsType(f))
		base := jen.Qual(guestCabiPath, "Ptr").Call(jen.Id("args"))
		for k, p := range f.Params {
			v := e.newTmp()
			body = append(body, jen.Id(v).Op(":=").Add(e.gLoad(p.Type, unsafeAt(base.Clone(), offs[k]))))
			args = append(args, jen.Id(v))
		}
	} else {
		var vals []jen.Code
		for k, c := range pcores {
			params = append(params, jen.Id(fmt.Sprintf("p%d", k)).Add(coreGo(c)))
			vals = append(vals, jen.Id(fmt.Sprintf("p%d", k)))
		}
		for _, p := range f.Params {
			n := len(flat(p.Type))
			st, v := e.gUnflat(p.Type, vals[:n])
			vals = vals[n:]
			body = append(body, st...)
			if nestedHostBorrows(p.Type) {
				tmp := e.newTmp()
				body = append(body, jen.Id(tmp).Op(":=").Add(v))
				v = jen.Id(tmp)
			}
			args = append(args, v)
		}
	}
	body = append(body, e.recordLent(f, args)...)
	call := jen.Id("exports").Dot(f.GoName).Call(args...)
	if f.Kind == Method {
		call = jen.Add(args[0]).Dot(f.GoName).Call(args[1:]...)
	} else {
		// Without SetExports the call would be a bare nil dereference.
		body = append([]jen.Code{jen.If(jen.Id("exports").Op("==").Nil()).Block(
			jen.Panic(jen.Lit(name + ": no implementation: call SetExports in init")))}, body...)
	}
	rt := resultType(f)
	sig := jen.Func().Id(fn).Params(params...)
	if len(results) == 1 {
		sig.Add(coreGo(results[0]))
	}
	mem := hasMem(rt) || spilled
	for _, p := range f.Params {
		mem = mem || hasMem(p.Type)
	}
	out := []jen.Code{}
	ends := e.endBorrows(f, args)
	// The gate (guest/wasi/cabi, "Gate") is suspended while the export
	// runs, up to its post-return: a host may call it inside one of the
	// guest's imports, whose wrapper holds the gate, and the export's own
	// imports would wait for it forever.
	body = append([]jen.Code{jen.Qual(guestCabiPath, "Suspend").Call()}, body...)
	resume := jen.Qual(guestCabiPath, "Resume").Call()
	if rt == nil {
		body = append(body, call)
		body = append(body, ends...)
		if mem {
			body = append(body, jen.Qual(guestCabiPath, "Unpin").Call())
		}
		body = append(body, resume)
	} else {
		body = append(body, e.exportResult(f, call)...)
		body = append(body, ends...)
		if retptr {
			area := "ret" + guestFuncName(f)
			out = append(out, jen.Comment(fmt.Sprintf("%s is the return area of the export %s, sized from its layout.", area, f.WITName)).Line().
				Var().Id(area).Index(jen.Lit(int((size(rt)+7)/8))).Uint64())
			p := unsafePtr(jen.Op("&").Id(area))
			body = append(body, e.gStore(rt, p, jen.Id("res")),
				jen.Return(jen.Uint32().Call(jen.Uintptr().Call(p.Clone()))))
		} else {
			st, vals := e.gFlat(rt, jen.Id("res"))
			body = append(body, st...)
			if mem {
				body = append(body, jen.Qual(guestCabiPath, "Unpin").Call())
			}
			body = append(body, resume, jen.Return(vals[0]))
		}
	}
	out = append(out, jen.Comment("//go:wasmexport "+name).Line().Add(sig).Block(body...))
	if retptr {
		out = append(out, jen.Comment("//go:wasmexport cabi_post_"+name).Line().
			Func().Id("post"+guestFuncName(f)).Params(jen.Id("ret").Uint32()).Block(jen.Qual(guestCabiPath, "Unpin").Call(), jen.Qual(guestCabiPath, "Resume").Call()))
	}
	return out
}

// Borrows of host resources nested in an argument (list<borrow<R>>, a
// record or variant holding one) are recorded before the implementation
// runs: recordLent walks the freshly lifted arguments, which nothing else
// has seen yet, and appends each lent handle with the drop of its resource
// to lent, a slice backed by an array on the export's stack (lentInline
// entries; more grow it on the heap). After the call the glue drops
// exactly those (cabi.EndBorrows), whatever the implementation did to the
// lists it was given, which share their elements with the glue's copy. A
// direct borrow<R> parameter is ended from its core value, which only the
// glue holds.

// lentInline is how many nested lent borrows an export records without
// allocating.
const lentInline = 16

// recordLent returns the statements declaring lent and recording in it the
// nested borrows of host resources in the lifted arguments args (variables
// wherever a borrow is nested); nil when f has none.
func (e *emitter) recordLent(f *Func, args []jen.Code) []jen.Code {
	var rec []jen.Code
	for k, p := range f.Params {
		if nestedHostBorrows(p.Type) {
			rec = append(rec, e.gLend(p.Type, args[k]))
		}
	}
	if rec == nil {
		return nil
	}
	return append([]jen.Code{
		jen.Var().Id("lentBuf").Index(jen.Lit(lentInline)).Qual(guestCabiPath, "Lent"),
		jen.Id("lent").Op(":=").Id("lentBuf").Index(jen.Empty(), jen.Lit(0)),
	}, rec...)
}

// endBorrows returns the statements ending the borrows of host resources
// the host lent f for the call, as the Canonical ABI requires of the
// callee before it returns: each direct borrow parameter from its core
// value (args holds CounterBorrow(p0) and the like), and every nested one
// recordLent recorded.
func (e *emitter) endBorrows(f *Func, args []jen.Code) []jen.Code {
	var out []jen.Code
	nested := false
	for k, p := range f.Params {
		if h, ok := resolve(p.Type).(*Handle); ok && hostBorrows(p.Type) {
			r := rootResource(h.Res)
			out = append(out, e.declRef(r, r.GoName).Call(args[k]).Dot("Drop").Call())
		}
		nested = nested || nestedHostBorrows(p.Type)
	}
	if nested {
		out = append(out, jen.Qual(guestCabiPath, "EndBorrows").Call(jen.Id("lent")))
	}
	return out
}

// hostBorrows reports whether a value of type t may hold a borrow of a
// resource the host implements (a borrow of one the guest implements is a
// rep: nothing to end).
func hostBorrows(t Type) bool {
	if !wit.HasBorrow(witOf(t)) {
		return false
	}
	switch rt := resolve(t).(type) {
	case *Handle:
		return !rt.Own && guestRes(rt) == nil
	case *List:
		return hostBorrows(rt.Elem)
	case *Option:
		return hostBorrows(rt.Elem)
	}
	for _, c := range append(fields(t), cases(t)...) {
		if c != nil && hostBorrows(c) {
			return true
		}
	}
	return false
}

// nestedHostBorrows reports whether t holds borrows of host resources
// other than as the whole value: the glue then lifts the argument into a
// variable and records its borrows in lent.
func nestedHostBorrows(t Type) bool {
	_, direct := resolve(t).(*Handle)
	return !direct && hostBorrows(t)
}

// gLend returns a statement appending to lent every borrow of a host
// resource in v, a t lent to an export: each element of a list, only the
// case of a variant, option or result that is present. Nil when t holds
// none.
func (e *emitter) gLend(t Type, v jen.Code) jen.Code {
	if !hostBorrows(t) {
		return nil
	}
	rt := resolve(t)
	lent := jen.Id("lent")
	if h, ok := rt.(*Handle); ok {
		r := rootResource(h.Res)
		end := "endBorrow" + e.declMangle(r)
		drop := e.helper(end, func() jen.Code {
			return jen.Comment(fmt.Sprintf("%s ends a borrow of %s lent to an export.", end, r.Name)).Line().
				Func().Id(end).Params(jen.Id("h").Uint32()).Block(e.declRef(r, r.GoName).Call(jen.Id("h")).Dot("Drop").Call())
		})
		return jen.Add(lent).Op("=").Append(lent, jen.Qual(guestCabiPath, "Lent").Values(jen.Dict{
			jen.Id("Handle"): jen.Uint32().Call(v),
			jen.Id("End"):    jen.Id(drop),
		}))
	}
	name := e.helper("lent"+e.mangle(rt), func() jen.Code {
		return jen.Comment(fmt.Sprintf("lent%s appends to lent the borrows of host resources in v, lent to an export.", e.mangle(rt))).Line().
			Func().Id("lent"+e.mangle(rt)).Params(jen.Id("lent").Index().Qual(guestCabiPath, "Lent"), jen.Id("v").Add(e.goType(rt))).
			Index().Qual(guestCabiPath, "Lent").
			Block(append(e.gLendBody(rt), jen.Return(jen.Id("lent")))...)
	})
	return jen.Add(lent).Op("=").Id(name).Call(lent, v)
}

// gLendBody is the body of the lent helper of a compound type, but its
// return.
func (e *emitter) gLendBody(t Type) []jen.Code {
	v := jen.Id("v")
	part := func(c Type, x jen.Code) []jen.Code {
		if s := e.gLend(c, x); s != nil {
			return []jen.Code{s}
		}
		return nil
	}
	switch t := t.(type) {
	case *List:
		return []jen.Code{jen.For(jen.List(jen.Id("_"), jen.Id("x")).Op(":=").Range().Add(v)).Block(part(t.Elem, jen.Id("x"))...)}
	case *Option:
		return []jen.Code{jen.If(jen.List(jen.Id("x"), jen.Id("ok")).Op(":=").Add(v).Dot("Get").Call(), jen.Id("ok")).Block(part(t.Elem, jen.Id("x"))...)}
	case *Result:
		return resultVisit(t, v, hostBorrows, e.gLend)
	case *Tuple:
		var out []jen.Code
		for i, el := range t.Elems {
			out = append(out, part(el, jen.Add(v).Dot(fmt.Sprintf("F%d", i)))...)
		}
		return out
	case *Ref:
		d := t.Decl
		switch k := d.Kind.(type) {
		case *Record:
			var out []jen.Code
			for _, f := range k.Fields {
				out = append(out, part(f.Type, jen.Add(v).Dot(f.GoName))...)
			}
			return out
		case *Variant:
			var clauses []jen.Code
			for _, c := range k.Cases {
				if c.Type != nil && hostBorrows(c.Type) {
					clauses = append(clauses, jen.Case(e.declRef(d, d.GoName+"Tag"+c.GoName)).Block(part(c.Type, jen.Add(v).Dot(c.GoName))...))
				}
			}
			return []jen.Code{jen.Switch(jen.Add(v).Dot("Tag")).Block(clauses...)}
		}
	}
	fail("guest: cannot record the borrows in %s", witString(t))
	return nil
}

// exportResult returns the statements calling the implementation (call)
// and turning its Go results back into the WIT result value res.
func (e *emitter) exportResult(f *Func, call jen.Code) []jen.Code {
	rt := resultType(f)
	switch shape(f) {
	case shapeOption:
		o := f.Results[0].Type.(*Option)
		return []jen.Code{
			jen.List(jen.Id("v"), jen.Id("ok")).Op(":=").Add(call),
			jen.Id("res").Op(":=").Qual(witvalPath, "None").Types(e.goType(o.Elem)).Call(),
			jen.If(jen.Id("ok")).Block(jen.Id("res").Op("=").Qual(witvalPath, "Some").Call(jen.Id("v"))),
		}
	case shapeResult:
		r := f.Results[0].Type.(*Result)
		ts := []jen.Code{e.orUnit(r.OK), e.orUnit(r.Err)}
		var out []jen.Code
		okv := jen.Qual(witvalPath, "Unit").Values()
		if r.OK != nil {
			out = append(out, jen.List(jen.Id("v"), jen.Id("err")).Op(":=").Add(call))
			okv = jen.Id("v")
		} else {
			out = append(out, jen.Id("err").Op(":=").Add(call))
		}
		var errv jen.Code
		var conv []jen.Code
		switch {
		case r.Err == nil:
			errv = jen.Qual(witvalPath, "Unit").Values()
		case resolve(r.Err) == String:
			errv = jen.Id("err").Dot("Error").Call()
		default:
			conv = []jen.Code{
				jen.Var().Id("ev").Add(e.goType(r.Err)),
				jen.If(jen.Op("!").Qual("errors", "As").Call(jen.Id("err"), jen.Op("&").Id("ev"))).Block(
					jen.Panic(jen.Lit(e.qualifiedName() + "#" + f.WITName + ": the implementation returned an error that is not a " + witString(r.Err) + ": ").Op("+").Id("err").Dot("Error").Call())),
			}
			errv = jen.Id("ev")
		}
		out = append(out,
			jen.Id("res").Op(":=").Qual(witvalPath, "OK").Types(ts...).Call(okv),
			jen.If(jen.Id("err").Op("!=").Nil()).Block(append(conv, jen.Id("res").Op("=").Qual(witvalPath, "Err").Types(ts...).Call(errv))...),
		)
		return out
	case shapeMultiple:
		var names []jen.Code
		vals := jen.Dict{}
		for k := range f.Results {
			n := fmt.Sprintf("r%d", k)
			names = append(names, jen.Id(n))
			vals[jen.Id(fmt.Sprintf("F%d", k))] = jen.Id(n)
		}
		return []jen.Code{jen.List(names...).Op(":=").Add(call), jen.Id("res").Op(":=").Add(e.goType(rt)).Values(vals)}
	}
	return []jen.Code{jen.Id("res").Op(":=").Add(call)}
}

// gUnflat lifts a value of type t from its flattened core values vals
// (typed as coreGo): the statements and the Go value.
func (e *emitter) gUnflat(t Type, vals []jen.Code) (stmts []jen.Code, v jen.Code) {
	switch rt := resolve(t).(type) {
	case Prim:
		switch rt {
		case Bool:
			return nil, jen.Add(vals[0]).Op("!=").Lit(0)
		case String:
			return nil, jen.Qual(guestCabiPath, "LiftString").Call(vals[0], vals[1])
		}
		return nil, e.goType(t).Call(vals[0])
	case *List:
		return nil, e.goType(t).Call(e.gLoadList(rt, vals[0], vals[1]))
	case *Handle:
		if !rt.Own && guestRes(rt) != nil {
			return nil, e.implOf(rt, vals[0])
		}
		return nil, e.goType(t).Call(vals[0])
	case *Tuple:
		d := jen.Dict{}
		for k, el := range rt.Elems {
			n := len(flat(el))
			s, fv := e.gUnflat(el, vals[:n])
			vals = vals[n:]
			stmts = append(stmts, s...)
			d[jen.Id(fmt.Sprintf("F%d", k))] = fv
		}
		return stmts, e.goType(t).Values(d)
	case *Ref:
		switch k := rt.Decl.Kind.(type) {
		case *Enum:
			return nil, e.goType(t).Call(vals[0])
		case *Flags:
			switch n := len(k.Flags); {
			case n <= 32:
				return nil, e.goType(t).Call(vals[0])
			case n <= 64:
				return nil, e.goType(t).Call(jen.Uint64().Call(vals[0]).Op("|").Uint64().Call(vals[1]).Op("<<").Lit(32))
			}
			return nil, e.goType(t).Values(vals...)
		case *Record:
			d := jen.Dict{}
			for _, f := range k.Fields {
				n := len(flat(f.Type))
				s, fv := e.gUnflat(f.Type, vals[:n])
				vals = vals[n:]
				stmts = append(stmts, s...)
				d[jen.Id(f.GoName)] = fv
			}
			return stmts, e.goType(t).Values(d)
		}
	}
	if !isVariant(t) {
		fail("guest: no lifting of %s from core values", witString(t))
	}
	cores := flat(t)
	name := e.helper("unflat"+e.mangle(t), func() jen.Code {
		var ps []jen.Code
		for k, c := range cores {
			ps = append(ps, jen.Id(fmt.Sprintf("r%d", k)).Add(coreGo(c)))
		}
		return jen.Func().Id("unflat" + e.mangle(t)).Params(ps...).Add(e.goType(t)).Block(e.gUnflatVariant(t, cores)...)
	})
	return nil, jen.Id(name).Call(vals...)
}

// gUnflatVariant is the body of the unflat helper of a variant-like type:
// the case from the discriminant, its payload from the joined slots.
func (e *emitter) gUnflatVariant(t Type, cores []Core) []jen.Code {
	payload := func(c Type) ([]jen.Code, jen.Code) {
		var vals []jen.Code
		for j, pc := range flat(c) {
			vals = append(vals, coreUnconv(cores[j+1], pc, jen.Id(fmt.Sprintf("r%d", j+1))))
		}
		return e.gUnflat(c, vals)
	}
	switch rt := resolve(t).(type) {
	case *Option:
		s, v := payload(rt.Elem)
		return []jen.Code{
			jen.If(jen.Id("r0").Op("==").Lit(0)).Block(jen.Return(jen.Qual(witvalPath, "None").Types(e.goType(rt.Elem)).Call())),
			jen.Add(s...),
			jen.Return(jen.Qual(witvalPath, "Some").Call(v)),
		}
	case *Result:
		ts := []jen.Code{e.orUnit(rt.OK), e.orUnit(rt.Err)}
		side := func(c Type, ctor string) []jen.Code {
			if c == nil {
				return []jen.Code{jen.Return(jen.Qual(witvalPath, ctor).Types(ts...).Call(jen.Qual(witvalPath, "Unit").Values()))}
			}
			s, v := payload(c)
			return append(s, jen.Return(jen.Qual(witvalPath, ctor).Types(ts...).Call(v)))
		}
		return append([]jen.Code{jen.If(jen.Id("r0").Op("==").Lit(0)).Block(side(rt.OK, "OK")...)}, side(rt.Err, "Err")...)
	case *Ref:
		k := rt.Decl.Kind.(*Variant)
		d := rt.Decl
		out := []jen.Code{
			jen.Var().Id("v").Add(e.goType(t)),
			jen.Id("v").Dot("Tag").Op("=").Add(e.declRef(d, d.GoName+"Tag")).Call(jen.Id("r0")),
		}
		var cs []jen.Code
		for _, c := range k.Cases {
			if c.Type == nil {
				continue
			}
			s, v := payload(c.Type)
			cs = append(cs, jen.Case(e.declRef(d, d.GoName+"Tag"+c.GoName)).Block(append(s, jen.Id("v").Dot(c.GoName).Op("=").Add(v))...))
		}
		if len(cs) > 0 {
			out = append(out, jen.Switch(jen.Id("v").Dot("Tag")).Block(cs...))
		}
		return append(out, jen.Return(jen.Id("v")))
	}
	fail("guest: no lifting of %s", witString(t))
	return nil
}

// coreUnconv converts core value x of the joined type from back to the
// case's type to: coreConv's inverse.
func coreUnconv(from, to Core, x jen.Code) jen.Code {
	switch {
	case from == to:
		return x
	case from == I64 && to == I32:
		return jen.Uint32().Call(x)
	case from == I32 && to == CF32:
		return jen.Qual("math", "Float32frombits").Call(x)
	case from == I64 && to == CF32:
		return jen.Qual("math", "Float32frombits").Call(jen.Uint32().Call(x))
	case from == I64 && to == CF64:
		return jen.Qual("math", "Float64frombits").Call(x)
	}
	fail("guest: no conversion of a core value from %d to %d", from, to)
	return nil
}
