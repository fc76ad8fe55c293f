package generator

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
	"go.bytecodealliance.org/wit"
)

// Exports: the host calls functions the guest exports. The glue is the
// import glue run backwards (see cabi/export.go): lower the arguments into
// the guest (flat in the stack, or spilled to memory allocated through the
// guest's cabi_realloc), call the export, lift the results (from the stack,
// or from the area the returned pointer names), then call post-return. The
// generated Exports type is bound to one instance by Bind, which finds
// every function and checks its core signature, so that a missing export
// is an error at bind time rather than at the first call.

// checkExportable fails for what exported interfaces cannot carry yet.
func (e *emitter) checkExportable() {
	for _, f := range e.i.Funcs {
		for _, p := range append(append([]*Param{}, f.Params...), f.Results...) {
			if !wit.HasResource(witOf(p.Type)) {
				continue
			}
			for _, d := range e.handleDecls(p.Type) {
				if r := rootResource(d); r != nil && r.Iface.Exported && r.Iface != e.i {
					fail("%s: the resource %s is exported by another interface (%s): not supported", f.WITName, r.Name, r.Iface.ModuleName)
				}
			}
		}
	}
}

// handleDecls returns the resources of the handles in t.
func (e *emitter) handleDecls(t Type) []*Decl {
	switch t := resolve(t).(type) {
	case *Handle:
		return []*Decl{t.Res}
	case *List:
		return e.handleDecls(t.Elem)
	case *Option:
		return e.handleDecls(t.Elem)
	}
	var out []*Decl
	for _, f := range fields(t) {
		out = append(out, e.handleDecls(f)...)
	}
	for _, c := range cases(t) {
		if c != nil {
			out = append(out, e.handleDecls(c)...)
		}
	}
	return out
}

// guestResources returns the resources the interface declares: the guest
// implements them.
func (e *emitter) guestResources() []*Decl {
	var out []*Decl
	for _, d := range e.i.Decls {
		if _, ok := d.Kind.(*Resource); ok {
			out = append(out, d)
		}
	}
	return out
}

// dtorField is the name of the destructor's cabi.ExportFunc in Exports.
func dtorField(d *Decl) string { return "dtor" + d.GoName }

// needsMemory reports whether calling f needs the guest's memory and
// cabi_realloc: strings and lists, spilled parameters, a return area.
func needsMemory(f *Func) bool {
	if _, spilled := flatParams(f); spilled {
		return true
	}
	if _, retptr := flatResults(f); retptr {
		return true
	}
	for _, p := range append(append([]*Param{}, f.Params...), f.Results...) {
		if wit.HasPointer(witOf(p.Type)) {
			return true
		}
	}
	return false
}

// exportCore returns the core signature of export f: its parameters (one
// pointer when spilled) and results (one pointer for a return area).
func exportCore(f *Func) (params, results []Core) {
	params, _ = flatParams(f)
	results, retptr := flatResults(f)
	if retptr {
		results = []Core{I32}
	}
	return params, results
}

// exportField is the name of the cabi.ExportFunc field of f in Exports;
// a method's joins the names with an underscore, as glueName does (the
// method b-c of a and the function a-b-c were both fABC).
func exportField(f *Func) string {
	if f.Kind == Method {
		return "f" + f.Res.GoName + "_" + f.GoName
	}
	return "f" + f.GoName
}

// exportGlue emits the Exports type, Bind and one method per function.
func (e *emitter) exportGlue() (code []jen.Code, err error) {
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
	fields := []jen.Code{jen.Qual(cabiPath, "Exports")}
	stack, memory := 1, false
	for _, f := range e.i.Funcs {
		fields = append(fields, jen.Id(exportField(f)).Qual(cabiPath, "ExportFunc"))
		params, results := exportCore(f)
		stack = max(stack, len(params), len(results))
		memory = memory || needsMemory(f)
	}
	for _, d := range e.guestResources() {
		fields = append(fields, jen.Id(dtorField(d)).Qual(cabiPath, "ExportFunc"))
	}
	code = append(code, group([]jen.Code{
		jen.Comment(fmt.Sprintf("Exports calls the functions a guest exports as %s, through one", e.qualifiedName())),
		jen.Comment("instance. A call claims the whole instance: one made while another call into it"),
		jen.Comment("is in progress, through any interface, from a host function the guest called or"),
		jen.Comment("from another goroutine, fails at once with cabi.ErrInstanceBusy. A fault or trap"),
		jen.Comment("marks the instance trapped and is returned as a *cabi.Trap; a guest exit as its"),
		jen.Comment("*sys.ExitError."),
	}, jen.Type().Id("Exports").Struct(fields...)))
	code = append(code, e.bind(stack, memory))
	for _, f := range e.i.Funcs {
		code = append(code, e.exportMethod(f))
	}
	if res := e.guestResources(); len(res) > 0 {
		code = append(code, e.guestResourceGlue(res)...)
	}
	return code, nil
}

// guestResourceGlue emits, for the resources the guest implements, their
// Drop and guest methods, and the [export] host module the guest imports
// [resource-new], [resource-rep] and [resource-drop] from: Register and
// Functions.
func (e *emitter) guestResourceGlue(res []*Decl) []jen.Code {
	var code, funcs []jen.Code
	for _, d := range res {
		code = append(code,
			group([]jen.Code{
				jen.Comment("Drop drops the host's " + d.Name + ": the guest's destructor runs. r is spent, even"),
				jen.Comment("when the destructor fails (its trap is returned and marks the instance trapped)."),
			}, jen.Func().Params(jen.Id("r").Op("*").Id(d.GoName)).Id("Drop").Params(jen.Id("ctx").Qual("context", "Context")).Error().Block(
				jen.Return(jen.Id("r").Dot("x").Dot("Exports").Dot("DropGuest").Call(jen.Id("ctx"), jen.Id("r").Dot("guest").Call(), jen.Op("&").Id("r").Dot("x").Dot(dtorField(d)))))),
			jen.Comment("guest returns the handle, nil for a nil r.").Line().
				Func().Params(jen.Id("r").Op("*").Id(d.GoName)).Id("guest").Params().Op("*").Qual(cabiPath, "GuestResource").Block(
				jen.If(jen.Id("r").Op("==").Nil()).Block(jen.Return(jen.Nil())),
				jen.Return(jen.Op("&").Id("r").Dot("GuestResource"))))
		funcs = append(funcs, jen.Qual(cabiPath, "ResourceFuncs").Call(jen.Id("module"), jen.Lit(d.Name), jen.Id(e.resourceVar(d))).Op("..."))
	}
	all := jen.Var().Id("fs").Index().Qual(cabiPath, "HostFunc")
	body := []jen.Code{all}
	for _, f := range funcs {
		body = append(body, jen.Id("fs").Op("=").Append(jen.Id("fs"), f))
	}
	body = append(body, jen.Return(jen.Id("fs")))
	code = append(code,
		group([]jen.Code{
			jen.Comment("Functions returns the functions of the host module module (\"[export]\" + ModuleName,"),
			jen.Comment("with the version) that the guest imports for the resources it implements:"),
			jen.Comment("[resource-new], [resource-rep] and [resource-drop] of each. Register defines them."),
		}, jen.Func().Id("Functions").Params(jen.Id("module").String()).Index().Qual(cabiPath, "HostFunc").Block(body...)),
		group([]jen.Code{
			jen.Comment(fmt.Sprintf("Register instantiates the host module [export]%s in r, once per version", e.i.ModuleName)),
			jen.Comment("asked for (Version when none is given), which a guest implementing the interface's"),
			jen.Comment("resources imports: call it before instantiating the guest."),
		}, jen.Func().Id("Register").Params(
			jen.Id("ctx").Qual("context", "Context"), jen.Id("r").Qual(wazeroPath, "Runtime"), jen.Id("versions").Op("...").String(),
		).Error().Block(
			jen.If(jen.Len(jen.Id("versions")).Op("==").Lit(0)).Block(jen.Id("versions").Op("=").Index().String().Values(jen.Id("Version"))),
			jen.For(jen.List(jen.Id("_"), jen.Id("v")).Op(":=").Range().Id("versions")).Block(
				jen.Id("module").Op(":=").Lit("[export]").Op("+").Id("ModuleName"),
				jen.If(jen.Id("v").Op("!=").Lit("")).Block(jen.Id("module").Op("+=").Lit("@").Op("+").Id("v")),
				jen.Id("b").Op(":=").Id("r").Dot("NewHostModuleBuilder").Call(jen.Id("module")),
				jen.For(jen.List(jen.Id("_"), jen.Id("f")).Op(":=").Range().Id("Functions").Call(jen.Id("module"))).Block(
					jen.Id("f").Dot("Define").Call(jen.Id("b"))),
				jen.If(jen.List(jen.Id("_"), jen.Id("err")).Op(":=").Id("b").Dot("Instantiate").Call(jen.Id("ctx")), jen.Id("err").Op("!=").Nil()).Block(
					jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(e.i.GoName+": registering %s: %w"), jen.Id("module"), jen.Id("err"))),
				),
			),
			jen.Return(jen.Nil()),
		)))
	return code
}

// bind emits Bind.
func (e *emitter) bind(stack int, memory bool) jen.Code {
	body := []jen.Code{
		jen.If(jen.Id("version").Op("==").Lit("")).Block(jen.Id("version").Op("=").Id("Version")),
		jen.Id("b").Op(":=").Qual(cabiPath, "NewBinder").Call(jen.Id("guest"), jen.Id("ModuleName"), jen.Id("version")),
		jen.Id("x").Op(":=").Op("&").Id("Exports").Values(),
	}
	for _, f := range e.i.Funcs {
		params, results := exportCore(f)
		body = append(body, jen.Id("x").Dot(exportField(f)).Op("=").Id("b").Dot("Func").Call(jen.Lit(f.WITName), jen.Lit(funcTypeText(f)), valueTypes(params), valueTypes(results)))
	}
	for _, d := range e.guestResources() {
		body = append(body, jen.Id("x").Dot(dtorField(d)).Op("=").Id("b").Dot("Dtor").Call(jen.Lit(d.Name), jen.Id(e.resourceVar(d))))
	}
	body = append(body,
		jen.Id("x").Dot("Exports").Op("=").Id("b").Dot("Exports").Call(jen.Id("inst"), jen.Id("x"), jen.Lit(stack), jen.Lit(memory)),
		jen.If(jen.Id("err").Op(":=").Id("b").Dot("Err").Call(), jen.Id("err").Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("err"))),
		jen.Return(jen.Id("x"), jen.Nil()))
	doc := []jen.Code{
		jen.Comment("Bind finds the functions of the interface that guest exports for inst, under their"),
		jen.Comment("canonical names (ModuleName@version#function; version \"\" means Version), and checks"),
		jen.Comment("their core signatures, and on a component (a cabi.TypedGuest) their function types"),
		jen.Comment("against the WIT. Each function is called with the memory, realloc and"),
		jen.Comment("post-return of its own options: for a core module, the module's memory and"),
		jen.Comment("cabi_realloc and its cabi_post_ export; for a component (a cabi.OptionsGuest), those"),
		jen.Comment("its canon lift names. Every function must be there: the error names each one"),
		jen.Comment("missing or mistyped."),
	}
	return group(doc, jen.Func().Id("Bind").Params(
		jen.Id("inst").Op("*").Qual(cabiPath, "Instance"), jen.Id("guest").Qual(cabiPath, "Guest"), jen.Id("version").String(),
	).Params(jen.Op("*").Id("Exports"), jen.Error()).Block(body...))
}

// funcTypeText returns the type of f in the text form cabi.Binder.Func
// compares with a component's export: the WIT function type with every
// named type spelled out. "" (no check) for more than one result, which a
// component function type cannot have.
func funcTypeText(f *Func) string {
	if len(f.Results) > 1 {
		return ""
	}
	var ps []string
	for _, p := range f.Params {
		ps = append(ps, p.Name+": "+typeText(p.Type))
	}
	s := "func(" + strings.Join(ps, ", ") + ")"
	if len(f.Results) == 1 {
		s += " -> " + typeText(f.Results[0].Type)
	}
	return s
}

// typeText returns t in the text form of funcTypeText.
func typeText(t Type) string {
	return witText(resolve(t), typeTextLeaf)
}

// typeTextLeaf spells out a handle or a named type for typeText.
func typeTextLeaf(t Type) string {
	if r := resolve(t); r != t {
		return typeText(r) // an alias
	}
	names := func(cs []*Case, payload bool) string {
		var s []string
		for _, c := range cs {
			n := c.Name
			if payload && c.Type != nil {
				n += "(" + typeText(c.Type) + ")"
			}
			s = append(s, n)
		}
		return strings.Join(s, ", ")
	}
	switch t := t.(type) {
	case *Handle:
		name := t.Res.Name
		if r := rootResource(t.Res); r != nil {
			name = r.Name
		}
		if t.Own {
			return "own<" + name + ">"
		}
		return "borrow<" + name + ">"
	case *Ref:
		switch k := t.Decl.Kind.(type) {
		case *Record:
			var s []string
			for _, f := range k.Fields {
				s = append(s, f.Name+": "+typeText(f.Type))
			}
			return "record{" + strings.Join(s, ", ") + "}"
		case *Variant:
			return "variant{" + names(k.Cases, true) + "}"
		case *Enum:
			return "enum{" + names(k.Cases, false) + "}"
		case *Flags:
			return "flags{" + names(k.Flags, false) + "}"
		}
	}
	fail("no type text for %s", witString(t))
	return ""
}

// exportLocals are the names the body of an export method uses; a WIT
// parameter or result of the same name is renamed (argName).
var exportLocals = map[string]bool{"ctx": true, "call": true, "c": true, "s": true, "v": true, "rp": true, "pp": true, "err": true, "x": true, "r": true}

// exportParam is the Go name of parameter i of export f: r for the self
// of a method, the receiver.
func (e *emitter) exportParam(f *Func, i int) string {
	if f.Kind == Method && i == 0 {
		return "r"
	}
	return e.exportParams(f)[i]
}

// exportParams are the Go names of f's parameters in its export method:
// each renamed argName when it would shadow a name the body uses (a local,
// a result, an imported package), then made unique with "_" suffixes.
func (e *emitter) exportParams(f *Func) []string {
	taken := map[string]bool{"r": f.Kind == Method}
	for i, r := range f.Results {
		taken[e.exportArg(r, i)] = true
	}
	names := make([]string, len(f.Params))
	for i, p := range f.Params {
		if f.Kind == Method && i == 0 {
			continue
		}
		name := e.exportArg(p, i)
		for taken[name] {
			name += "_"
		}
		taken[name] = true
		names[i] = name
	}
	return names
}

// exportArg is the Go name of parameter or result p of an export method.
func (e *emitter) exportArg(p *Param, i int) string {
	name := p.GoName
	if name == "" {
		return fmt.Sprintf("r%d", i)
	}
	if exportLocals[name] || e.shadowsImport(name) || isResultName(name) {
		return "arg" + exported(p.Name)
	}
	return name
}

// shadowsImport reports whether a local variable named name would shadow
// a package the generated file imports.
func (e *emitter) shadowsImport(name string) bool {
	switch name {
	case "cabi", "context", "fmt", "errors", "api", "wazero", "math", "unsafe", "runtime", "strconv", "witval":
		return true
	}
	for _, i := range e.m.Ifaces {
		if i != e.i && i.GoName == name {
			return true
		}
	}
	return false
}

// isResultName reports whether name is r0, r1, ...: the names of
// anonymous results.
func isResultName(name string) bool {
	if len(name) < 2 || name[0] != 'r' {
		return false
	}
	for _, c := range name[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// exportSignature is the Go signature of the method calling export f: the
// WIT results as they are, then the error of a fault or trap.
func (e *emitter) exportSignature(f *Func) *jen.Statement {
	params := []jen.Code{jen.Id("ctx").Qual("context", "Context")}
	for i, p := range f.Params {
		if f.Kind == Method && i == 0 {
			continue // the receiver
		}
		params = append(params, jen.Id(e.exportParam(f, i)).Add(e.goType(p.Type)))
	}
	var results []jen.Code
	for i, r := range f.Results {
		results = append(results, jen.Id(e.exportArg(r, i)).Add(e.goType(r.Type)))
	}
	results = append(results, jen.Id("err").Error())
	return jen.Params(params...).Params(results...)
}

// scalarExport reports whether f takes and returns plain numbers only: its
// method then calls through cabi.Exports.Enter and Leave, without a
// Call (no memory, no checks that could fault).
func scalarExport(f *Func) bool {
	if _, spilled := flatParams(f); spilled {
		return false
	}
	for _, p := range append(append([]*Param{}, f.Params...), f.Results...) {
		if !plainScalar(p.Type) {
			return false
		}
	}
	return len(f.Results) <= 1
}

// exportScalarMethod emits the method of a scalar export. It calls the
// embedded cabi.Exports' methods through the field: an exported function
// of the same Go name (enter, leave, refusal) is a method of Exports that
// hides them.
func (e *emitter) exportScalarMethod(f *Func) jen.Code {
	s := jen.Id("s")
	field := jen.Op("&").Id("x").Dot(exportField(f))
	var zero []jen.Code
	if len(f.Results) == 1 {
		zero = append(zero, jen.Id(e.exportArg(f.Results[0], 0)))
	}
	body := []jen.Code{
		jen.Id("s").Op(":=").Id("x").Dot("Exports").Dot("Enter").Call(),
		jen.If(jen.Id("s").Op("==").Nil()).Block(jen.Return(append(zero, jen.Id("x").Dot("Exports").Dot("Refusal").Call(field))...)),
	}
	off := 0
	for i, p := range f.Params {
		body = append(body, slot(s, off).Op("=").Add(e.lowerFlat(p.Type, jen.Id(e.exportParam(f, i)))))
		off++
	}
	body = append(body,
		jen.If(jen.Id("err").Op("=").Id("x").Dot("Exports").Dot("Leave").Call(jen.Id("ctx"), field,
			jen.Id("x").Dot(exportField(f)).Dot("Fn").Dot("CallWithStack").Call(jen.Id("ctx"), jen.Id("s"))), jen.Id("err").Op("!=").Nil()).Block(
			jen.Return(append(zero, jen.Id("err"))...)))
	if len(f.Results) == 1 {
		body = append(body, jen.Return(e.liftExpr(f.Results[0].Type, s, 0), jen.Nil()))
	} else {
		body = append(body, jen.Return(jen.Nil()))
	}
	return e.exportFuncDecl(f, body)
}

// exportFuncDecl declares the Go method calling export f: a method of the
// resource for a WIT method (through the Exports the resource came from),
// else of Exports.
func (e *emitter) exportFuncDecl(f *Func, body []jen.Code) jen.Code {
	doc := comments(fmt.Sprintf("%s calls the guest's export %s.", f.GoName, f.WITName), f.Docs, f.WIT)
	recv := jen.Id("x").Op("*").Id("Exports")
	if f.Kind == Method {
		recv = jen.Id("r").Op("*").Id(f.Res.GoName)
		body = append([]jen.Code{jen.Id("x").Op(":=").Id("r").Dot("x")}, body...)
	}
	return group(doc, jen.Func().Params(recv).Id(f.GoName).Add(e.exportSignature(f)).Block(body...))
}

// exportMethod emits the method calling export f.
func (e *emitter) exportMethod(f *Func) jen.Code {
	if scalarExport(f) {
		return e.exportScalarMethod(f)
	}
	s := jen.Id("s")
	// EndExport is deferred before BeginExport, whose refusals (a trapped
	// instance, a busy one) are panics it turns into the error.
	body := []jen.Code{
		jen.Var().Id("call").Qual(cabiPath, "Call"),
		jen.Id("c").Op(":=").Op("&").Id("call"),
		jen.Defer().Id("c").Dot("EndExport").Call(jen.Op("&").Id("err")),
		jen.Id("c").Dot("BeginExport").Call(jen.Id("ctx"), jen.Op("&").Id("x").Dot("Exports"), jen.Op("&").Id("x").Dot(exportField(f))),
	}
	params, results := exportCore(f)
	if len(params) > 0 || len(results) > 0 {
		body = append(body, jen.Id("s").Op(":=").Id("c").Dot("Stack").Call())
	}
	body = append(body, e.lowerParams(f, s)...)
	body = append(body, jen.Id("c").Dot("Invoke").Call())
	if rt := resultType(f); rt != nil {
		var lifted jen.Code
		_, retptr := flatResults(f)
		if retptr || touchesInstance(rt) {
			body = append(body, jen.Id("c").Dot("ReadMemory").Call())
		}
		if retptr {
			body = append(body,
				jen.Id("rp").Op(":=").Add(u32(slot(s, 0))),
				cID().Dot("Check").Call(jen.Id("rp"), jen.Lit(int(size(rt))), jen.Lit(int(alignment(rt)))))
			lifted = e.loadExpr(rt, jen.Id("rp"))
		} else {
			lifted = e.liftExpr(rt, s, 0)
		}
		body = append(body, jen.Id("v").Op(":=").Add(lifted))
		if holdsOwn(rt) {
			body = append(body, cID().Dot("Commit").Call())
		}
		body = append(body, jen.Id("c").Dot("PostReturn").Call(jen.Lit(len(results))))
		if len(f.Results) == 1 {
			body = append(body, jen.Return(jen.Id("v"), jen.Nil()))
		} else {
			var vals []jen.Code
			for i := range f.Results {
				vals = append(vals, jen.Id("v").Dot(fmt.Sprintf("F%d", i)))
			}
			body = append(body, jen.Return(append(vals, jen.Nil())...))
		}
	} else {
		body = append(body, jen.Id("c").Dot("PostReturn").Call(jen.Lit(0)), jen.Return(jen.Nil()))
	}
	return e.exportFuncDecl(f, body)
}

// lowerParams lowers f's arguments into the stack s: flat, or spilled to
// memory the guest allocates, its pointer in s[0].
func (e *emitter) lowerParams(f *Func, s jen.Code) []jen.Code {
	var out []jen.Code
	if _, spilled := flatParams(f); spilled {
		tu := paramsType(f)
		out = append(out, jen.Id("pp").Op(":=").Add(cID().Dot("Realloc").Call(jen.Lit(int(size(tu))), jen.Lit(int(alignment(tu))))))
		offs := fieldOffsets(tu)
		for i, p := range f.Params {
			out = append(out, e.storeStmt(p.Type, offset(jen.Id("pp"), offs[i]), jen.Id(e.exportParam(f, i))))
		}
		return append(out, slot(s, 0).Op("=").Uint64().Call(jen.Id("pp")))
	}
	off := 0
	for i, p := range f.Params {
		out = append(out, e.lowerInto(p.Type, jen.Id(e.exportParam(f, i)), s, off))
		off += len(flat(p.Type))
	}
	return out
}

// lowerInto returns a statement lowering v, a t, into the flat values
// s[off:off+len(flat(t))].
func (e *emitter) lowerInto(t Type, v, s jen.Code, off int) jen.Code {
	rt := resolve(t)
	if len(flat(rt)) == 1 && !isVariantLike(rt) {
		return slot(s, off).Op("=").Add(e.lowerFlat(rt, v))
	}
	name := "lowerflat" + e.mangle(rt)
	e.helper(name, func() jen.Code {
		return jen.Func().Id(name).Params(callParam, jen.Id("s").Index().Uint64(), jen.Id("v").Add(e.goType(rt))).Block(e.lowerIntoBody(rt)...)
	})
	arg := jen.Add(s)
	if off != 0 {
		arg = jen.Add(s).Index(jen.Lit(off), jen.Empty())
	}
	return jen.Id(name).Call(cID(), arg, v)
}

// isVariantLike reports whether t is a variant, option or result with a
// payload, whose flat lowering needs its unused slots cleared.
func isVariantLike(t Type) bool {
	return isVariant(t) && len(flat(t)) > 1
}

// lowerIntoBody is the body of the flat lowering helper of t.
func (e *emitter) lowerIntoBody(t Type) []jen.Code {
	s, v := jen.Id("s"), jen.Id("v")
	set2 := func(a, b jen.Code) jen.Code {
		return jen.List(slot(s, 0), slot(s, 1)).Op("=").List(jen.Uint64().Call(a), jen.Uint64().Call(b))
	}
	switch t := t.(type) {
	case Prim:
		if t == String {
			return []jen.Code{jen.List(jen.Id("p"), jen.Id("n")).Op(":=").Add(cID().Dot("StoreString").Call(v)), set2(jen.Id("p"), jen.Id("n"))}
		}
	case *List:
		if resolve(t.Elem) == U8 {
			return []jen.Code{jen.List(jen.Id("p"), jen.Id("n")).Op(":=").Add(cID().Dot("StoreBytes").Call(v)), set2(jen.Id("p"), jen.Id("n"))}
		}
		return append(e.allocList(t, v), set2(jen.Id("q"), jen.Len(v)))
	case *Option:
		n := len(flat(t))
		return []jen.Code{
			jen.Clear(jen.Add(s).Index(jen.Lit(1), jen.Lit(n))),
			jen.If(jen.List(jen.Id("x"), jen.Id("ok")).Op(":=").Add(v).Dot("Get").Call(), jen.Id("ok")).Block(
				slot(s, 0).Op("=").Lit(1),
				e.lowerInto(t.Elem, jen.Id("x"), s, 1),
			).Else().Block(slot(s, 0).Op("=").Lit(0)),
		}
	case *Result:
		n := len(flat(t))
		okID, errID := jen.Id("_"), jen.Id("_")
		okPart := []jen.Code{slot(s, 0).Op("=").Lit(0)}
		errPart := []jen.Code{slot(s, 0).Op("=").Lit(1)}
		if t.OK != nil {
			okID = jen.Id("x")
			okPart = append(okPart, e.lowerInto(t.OK, jen.Id("x"), s, 1))
		}
		if t.Err != nil {
			errID = jen.Id("y")
			errPart = append(errPart, e.lowerInto(t.Err, jen.Id("y"), s, 1))
		}
		return []jen.Code{
			jen.Clear(jen.Add(s).Index(jen.Lit(1), jen.Lit(n))),
			jen.If(jen.List(okID, errID, jen.Id("isErr")).Op(":=").Add(v).Dot("Get").Call(), jen.Id("isErr")).Block(errPart...).Else().Block(okPart...),
		}
	case *Tuple:
		var out []jen.Code
		off := 0
		for i, el := range t.Elems {
			out = append(out, e.lowerInto(el, jen.Add(v).Dot(fmt.Sprintf("F%d", i)), s, off))
			off += len(flat(el))
		}
		return out
	case *Ref:
		d := t.Decl
		switch k := d.Kind.(type) {
		case *Record:
			var out []jen.Code
			off := 0
			for _, f := range k.Fields {
				out = append(out, e.lowerInto(f.Type, jen.Add(v).Dot(f.GoName), s, off))
				off += len(flat(f.Type))
			}
			return out
		case *Variant:
			var clauses []jen.Code
			for i, c := range k.Cases {
				body := []jen.Code{slot(s, 0).Op("=").Lit(i)}
				if c.Type != nil {
					body = append(body, e.lowerInto(c.Type, jen.Add(v).Dot(c.GoName), s, 1))
				}
				clauses = append(clauses, jen.Case(e.declRef(d, d.GoName+"Tag"+c.GoName)).Block(body...))
			}
			clauses = append(clauses, jen.Default().Block(
				cID().Dot("Trapf").Call(jen.Lit("host passed a "+d.Name+" with bad tag %d"), jen.Add(v).Dot("Tag"))))
			return []jen.Code{
				jen.Clear(jen.Add(s).Index(jen.Lit(1), jen.Lit(len(flat(t))))),
				jen.Switch(jen.Add(v).Dot("Tag")).Block(clauses...),
			}
		case *Flags:
			if n := flagsWords(k); n > 0 {
				var out []jen.Code
				for i := 0; i < n; i++ {
					out = append(out, slot(s, i).Op("=").Uint64().Call(jen.Add(v).Index(jen.Lit(i))))
				}
				return out
			}
			return []jen.Code{set2(u32(v), u32(jen.Add(v).Op(">>").Lit(32)))}
		}
	}
	fail("cannot lower %s to core values", witString(t))
	return nil
}
