package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// needsInstance reports whether f's glue needs the instance.
func needsInstance(f *Func) bool {
	if _, spilled := flatParams(f); spilled {
		return true
	}
	if _, retptr := flatResults(f); retptr {
		return true
	}
	for _, p := range f.Params {
		if touchesInstance(p.Type) {
			return true
		}
	}
	for _, r := range f.Results {
		if touchesInstance(r.Type) {
			return true
		}
	}
	return false
}

// plainScalar reports whether t lifts and lowers inline without any
// check: numbers and bools. Other types go through helpers taking a Call.
func plainScalar(t Type) bool {
	p, ok := resolve(t).(Prim)
	return ok && p != Char && p != String
}

// needsCall reports whether the glue of scalar function f needs a Call for
// its checks.
func needsCall(f *Func) bool {
	for _, p := range f.Params {
		if !plainScalar(p.Type) {
			return true
		}
	}
	for _, p := range f.Results {
		// A result without payloads and flags lower unchecked.
		if r, ok := resolve(p.Type).(*Result); ok && r.OK == nil && r.Err == nil {
			continue
		}
		if r, ok := resolve(p.Type).(*Ref); ok {
			if _, ok := r.Decl.Kind.(*Flags); ok {
				continue
			}
		}
		if !plainScalar(p.Type) {
			return true
		}
	}
	return false
}

// glueName is the name of the Go function building f's wazero function.
// A method's joins the resource's and the method's Go names with an
// underscore, which no Go name made of WIT names has: joined without, the
// method c of a-b and the method b-c of a were both methodABC.
func glueName(f *Func) string {
	switch f.Kind {
	case Method:
		return "method" + f.Res.GoName + "_" + f.GoName
	case Static:
		return "static" + f.GoName
	case Constructor:
		return "constructor" + f.Res.GoName
	}
	return "func" + f.GoName
}

func valueTypes(cs []Core) jen.Code {
	var vs []jen.Code
	for _, c := range cs {
		n := map[Core]string{I32: "ValueTypeI32", I64: "ValueTypeI64", CF32: "ValueTypeF32", CF64: "ValueTypeF64"}[c]
		vs = append(vs, jen.Qual(apiPath, n))
	}
	return jen.Index().Qual(apiPath, "ValueType").Values(vs...)
}

// paramNames returns the wazero parameter names of f.
func paramNames(f *Func) []jen.Code {
	var out []jen.Code
	if _, spilled := flatParams(f); spilled {
		out = append(out, jen.Lit("params"))
	} else {
		for _, p := range f.Params {
			n := len(flat(p.Type))
			switch {
			case n == 1:
				out = append(out, jen.Lit(p.Name))
			case n == 2 && (resolve(p.Type) == String || isList(p.Type)):
				out = append(out, jen.Lit(p.Name+".ptr"), jen.Lit(p.Name+".len"))
			default:
				for i := 0; i < n; i++ {
					out = append(out, jen.Lit(fmt.Sprintf("%s.%d", p.Name, i)))
				}
			}
		}
	}
	if _, retptr := flatResults(f); retptr {
		out = append(out, jen.Lit("retptr"))
	}
	return out
}

func isList(t Type) bool {
	_, ok := resolve(t).(*List)
	return ok
}

// glue emits the wazero glue: one function per WIT function and resource
// drop, Register, and the exports.
func (e *emitter) glue() (code []jen.Code, err error) {
	defer func() {
		if r := recover(); r != nil {
			ge, ok := r.(genError)
			if !ok {
				panic(r)
			}
			err = ge.err
		}
	}()
	var exports []jen.Code
	for _, f := range e.i.Funcs {
		code = append(code, e.glueFunc(f))
		flatP, _ := flatParams(f)
		flatR, retptr := flatResults(f)
		if retptr {
			flatP = append(flatP, I32)
		}
		var resultNames []jen.Code
		if len(flatR) == 1 {
			resultNames = append(resultNames, jen.Lit("result"))
		}
		var build jen.Code
		if f.Kind == Method {
			build = jen.Id(glueName(f)).Call(jen.Id("module").Op("+").Lit("#" + f.WITName))
		} else {
			build = jen.Id(glueName(f)).Call(jen.Id("h"), jen.Id("module").Op("+").Lit("#"+f.WITName))
		}
		exports = append(exports, hostFunc(f.WITName, build, flatP, flatR, paramNames(f), resultNames))
	}
	for _, d := range e.i.Decls {
		if _, ok := d.Kind.(*Resource); !ok {
			continue
		}
		name := "drop" + d.GoName
		code = append(code, jen.Func().Id(name).Params(jen.Id("name").String()).Qual(apiPath, "GoModuleFunc").Block(
			jen.Return(jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("mod").Qual(apiPath, "Module"), jen.Id("stack").Index().Uint64()).Block(
				jen.Id("c").Op(":=").Qual(cabiPath, "Begin").Call(jen.Id("ctx"), jen.Id("mod"), jen.Id("name")),
				jen.Defer().Id("c").Dot("End").Call(),
				jen.Id("c").Dot("Drop").Call(u32(jen.Id("stack").Index(jen.Lit(0))), jen.Id(e.resourceVar(d))),
			))))
		wit := "[resource-drop]" + d.Name
		exports = append(exports, hostFunc(wit, jen.Id(name).Call(jen.Id("module").Op("+").Lit("#"+wit)), []Core{I32}, nil, []jen.Code{jen.Lit("self")}, nil))
	}
	code = append(code, e.register(),
		jen.Comment("Functions returns the functions of the interface served by h, for the host module named").Line().
			Comment("module (their traps name module#function): Register defines them all; a linker may pick").Line().
			Comment("them one by one.").Line().
			Func().Id("Functions").Params(jen.Id("h").Id("Host"), jen.Id("module").String()).Index().Qual(cabiPath, "HostFunc").Block(
			jen.Return(jen.Index().Qual(cabiPath, "HostFunc").ValuesFunc(func(g *jen.Group) {
				for _, x := range exports {
					g.Line().Add(x)
				}
				g.Line()
			}))),
		jen.Comment("exportFunctions defines the functions of the interface on b, for the module named module.").Line().
			Func().Id("exportFunctions").Params(jen.Id("b").Qual(wazeroPath, "HostModuleBuilder"), jen.Id("h").Id("Host"), jen.Id("module").String()).Block(
			jen.For(jen.List(jen.Id("_"), jen.Id("f")).Op(":=").Range().Id("Functions").Call(jen.Id("h"), jen.Id("module"))).Block(
				jen.Id("f").Dot("Define").Call(jen.Id("b")))))
	return code, nil
}

// hostFunc emits one cabi.HostFunc literal.
func hostFunc(name string, fn jen.Code, params, results []Core, pnames, rnames []jen.Code) jen.Code {
	kv := func(k string, v jen.Code) jen.Code { return jen.Id(k).Op(":").Add(v) }
	fields := []jen.Code{kv("Name", jen.Lit(name)), kv("Fn", fn), kv("Params", valueTypes(params)), kv("Results", valueTypes(results))}
	if len(pnames) > 0 {
		fields = append(fields, kv("ParamNames", jen.Index().String().Values(pnames...)))
	}
	if len(rnames) > 0 {
		fields = append(fields, kv("ResultNames", jen.Index().String().Values(rnames...)))
	}
	return jen.Values(fields...)
}

// register emits Register.
func (e *emitter) register() jen.Code {
	doc := []jen.Code{
		jen.Comment(fmt.Sprintf("Register instantiates the host module %s in r, once per version", e.i.ModuleName)),
		jen.Comment("asked for (module name ModuleName@version; Version when none is given), every"),
		jen.Comment("one served by h and by the resource table of the calling guest's cabi.Instance."),
	}
	return group(doc, jen.Func().Id("Register").Params(
		jen.Id("ctx").Qual("context", "Context"), jen.Id("r").Qual(wazeroPath, "Runtime"), jen.Id("h").Id("Host"), jen.Id("versions").Op("...").String(),
	).Error().Block(
		jen.If(jen.Len(jen.Id("versions")).Op("==").Lit(0)).Block(jen.Id("versions").Op("=").Index().String().Values(jen.Id("Version"))),
		jen.For(jen.List(jen.Id("_"), jen.Id("v")).Op(":=").Range().Id("versions")).Block(
			jen.Id("module").Op(":=").Id("ModuleName"),
			jen.If(jen.Id("v").Op("!=").Lit("")).Block(jen.Id("module").Op("+=").Lit("@").Op("+").Id("v")),
			jen.Id("b").Op(":=").Id("r").Dot("NewHostModuleBuilder").Call(jen.Id("module")),
			jen.Id("exportFunctions").Call(jen.Id("b"), jen.Id("h"), jen.Id("module")),
			jen.If(jen.List(jen.Id("_"), jen.Id("err")).Op(":=").Id("b").Dot("Instantiate").Call(jen.Id("ctx")), jen.Id("err").Op("!=").Nil()).Block(
				jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(e.i.GoName+": registering %s: %w"), jen.Id("module"), jen.Id("err"))),
			),
		),
		jen.Return(jen.Nil()),
	))
}

// glueFunc emits the glue of f: begin the call, lift the parameters, call
// the host, map its results, lower them.
func (e *emitter) glueFunc(f *Func) jen.Code {
	body := glueBegin(f)
	args, lift := e.glueParams(f)
	body = append(body, lift...)
	body = append(body, glueReturnPointer(f)...)
	for _, p := range f.Params {
		if holdsOwn(p.Type) {
			// Own handles leave the table once every parameter lifted.
			body = append(body, cID().Dot("Commit").Call())
			break
		}
	}
	body = append(body, e.glueCall(f, args)...)
	body = append(body, e.glueResults(f)...)
	params := []jen.Code{jen.Id("name").String()}
	if f.Kind != Method {
		params = []jen.Code{jen.Id("h").Id("Host"), jen.Id("name").String()}
	}
	return jen.Func().Id(glueName(f)).Params(params...).Qual(apiPath, "GoModuleFunc").Block(
		jen.Return(jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("mod").Qual(apiPath, "Module"), jen.Id("stack").Index().Uint64()).Block(body...)))
}

// glueBegin starts the call: a Call bound to the instance when f touches
// it (Begin applies the may-leave rule), else (scalar functions) the
// may-leave rule by the context (cabi.MayLeaveCtx: no call from the
// guest's cabi_realloc or post-return), a recover that turns a panic into
// a trap, and a Call without instance only when a check (char,
// discriminant) needs one to trap with.
func glueBegin(f *Func) []jen.Code {
	if needsInstance(f) {
		return []jen.Code{
			jen.Id("call").Op(":=").Qual(cabiPath, "Begin").Call(jen.Id("ctx"), jen.Id("mod"), jen.Id("name")),
			jen.Id("c").Op(":=").Op("&").Id("call"),
			jen.Defer().Id("c").Dot("End").Call(),
		}
	}
	body := []jen.Code{jen.Qual(cabiPath, "MayLeaveCtx").Call(jen.Id("ctx"), jen.Id("name")), jen.Defer().Func().Params().Block(
		jen.If(jen.Id("r").Op(":=").Recover(), jen.Id("r").Op("!=").Nil()).Block(
			jen.Qual(cabiPath, "Rethrow").Call(jen.Id("ctx"), jen.Id("name"), jen.Id("r")))).Call()}
	if needsCall(f) {
		body = append(body,
			jen.Id("call").Op(":=").Qual(cabiPath, "BeginScalar").Call(jen.Id("ctx"), jen.Id("name")),
			jen.Id("c").Op(":=").Op("&").Id("call"))
	}
	return body
}

// glueParams lifts f's parameters into p0, p1, ...: from the flat stack,
// or from the memory the spilled parameters' pointer names.
func (e *emitter) glueParams(f *Func) (args, body []jen.Code) {
	stack := jen.Id("stack")
	if _, spilled := flatParams(f); spilled {
		tu := paramsType(f)
		body = append(body,
			jen.Id("pp").Op(":=").Add(u32(slot(stack, 0))),
			cID().Dot("Check").Call(jen.Id("pp"), jen.Lit(int(size(tu))), jen.Lit(int(alignment(tu)))))
		offs := fieldOffsets(tu)
		for i, p := range f.Params {
			id := fmt.Sprintf("p%d", i)
			body = append(body, jen.Id(id).Op(":=").Add(e.loadExpr(p.Type, offset(jen.Id("pp"), offs[i]))))
			args = append(args, jen.Id(id))
		}
		return args, body
	}
	off := 0
	for i, p := range f.Params {
		id := fmt.Sprintf("p%d", i)
		body = append(body, jen.Id(id).Op(":=").Add(e.liftExpr(p.Type, stack, off)))
		args = append(args, jen.Id(id))
		off += len(flat(p.Type))
	}
	return args, body
}

// glueReturnPointer reads and checks rp, the return area the guest passed
// after the parameters, when f's results do not fit the stack.
func glueReturnPointer(f *Func) []jen.Code {
	_, retptr := flatResults(f)
	if !retptr {
		return nil
	}
	flatP, _ := flatParams(f)
	rt := resultType(f)
	return []jen.Code{
		jen.Id("rp").Op(":=").Add(u32(slot(jen.Id("stack"), len(flatP)))),
		cID().Dot("Check").Call(jen.Id("rp"), jen.Lit(int(size(rt))), jen.Lit(int(alignment(rt)))),
	}
}

// glueCall calls the host (a method on its receiver p0) and puts the WIT
// result in v: the Go results mapped back to their WIT shape.
func (e *emitter) glueCall(f *Func, args []jen.Code) []jen.Code {
	var call *jen.Statement
	if f.Kind == Method {
		call = jen.Id("p0").Dot(f.GoName).Call(append([]jen.Code{jen.Id("ctx")}, args[1:]...)...)
	} else {
		call = jen.Id("h").Dot(f.GoName).Call(append([]jen.Code{jen.Id("ctx")}, args...)...)
	}
	switch shape(f) {
	case shapePlain:
		return []jen.Code{jen.Id("v").Op(":=").Add(call)}
	case shapeOption:
		o := f.Results[0].Type.(*Option)
		return []jen.Code{
			jen.List(jen.Id("r"), jen.Id("ok")).Op(":=").Add(call),
			jen.Var().Id("v").Add(e.goType(o)),
			jen.If(jen.Id("ok")).Block(jen.Id("v").Op("=").Qual(cabiPath, "Some").Types(e.goType(o.Elem)).Call(jen.Id("r"))),
		}
	case shapeResult:
		return e.glueResultCall(f, call)
	case shapeMultiple:
		var ids []jen.Code
		vals := jen.Dict{}
		for i := range f.Results {
			id := fmt.Sprintf("r%d", i)
			ids = append(ids, jen.Id(id))
			vals[jen.Id(fmt.Sprintf("F%d", i))] = jen.Id(id)
		}
		return []jen.Code{jen.List(ids...).Op(":=").Add(call), jen.Id("v").Op(":=").Add(e.goType(resultType(f))).Values(vals)}
	}
	return []jen.Code{call}
}

// glueResultCall calls a host function returning (T, error) for a WIT
// result<T, E> and maps the error to the error case (see
// docs/wit2host.md): any error for a result without payload, its message
// for a string, the error itself (or what errors.As finds) for a declared
// type; any other error is a host bug and traps.
func (e *emitter) glueResultCall(f *Func, call *jen.Statement) []jen.Code {
	r := f.Results[0].Type.(*Result)
	types := []jen.Code{e.orUnit(r.OK), e.orUnit(r.Err)}
	var body []jen.Code
	var okVal jen.Code = jen.Qual(cabiPath, "Unit").Values()
	if r.OK != nil {
		body = append(body, jen.List(jen.Id("r"), jen.Id("err")).Op(":=").Add(call))
		okVal = jen.Id("r")
	} else {
		body = append(body, jen.Id("err").Op(":=").Add(call))
	}
	var errCase []jen.Code
	switch {
	case r.Err == nil:
		errCase = append(errCase, jen.Id("v").Op("=").Qual(cabiPath, "Err").Types(types...).Call(jen.Qual(cabiPath, "Unit").Values()))
	case resolve(r.Err) == String:
		errCase = append(errCase, jen.Id("v").Op("=").Qual(cabiPath, "Err").Types(types...).Call(jen.Id("err").Dot("Error").Call()))
	default:
		et := e.goType(r.Err)
		errCase = append(errCase,
			jen.List(jen.Id("x"), jen.Id("ok")).Op(":=").Id("err").Assert(et),
			jen.If(jen.Op("!").Id("ok").Op("&&").Op("!").Qual("errors", "As").Call(jen.Id("err"), jen.Op("&").Id("x"))).Block(
				cID().Dot("Trapf").Call(jen.Lit(fmt.Sprintf("host returned error %%v (%%T), want a %s", et.GoString())), jen.Id("err"), jen.Id("err"))),
			jen.Id("v").Op("=").Qual(cabiPath, "Err").Types(types...).Call(jen.Id("x")))
	}
	return append(body,
		jen.Var().Id("v").Add(e.goType(r)),
		jen.If(jen.Id("err").Op("!=").Nil()).Block(errCase...).Else().Block(
			jen.Id("v").Op("=").Qual(cabiPath, "OK").Types(types...).Call(okVal)))
}

// glueResults lowers v, the WIT result: into the stack, or stored in the
// return area rp after its own handles entered the table.
func (e *emitter) glueResults(f *Func) []jen.Code {
	rt := resultType(f)
	if rt == nil {
		return nil
	}
	v := jen.Id("v")
	if _, retptr := flatResults(f); !retptr {
		return []jen.Code{slot(jen.Id("stack"), 0).Op("=").Add(e.lowerFlat(rt, v))}
	}
	var body []jen.Code
	if holdsOwn(rt) {
		body = append(body, e.reserveStmt(rt, v))
	}
	return append(body, e.storeStmt(rt, jen.Id("rp"), v))
}
