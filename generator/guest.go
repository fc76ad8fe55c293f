package generator

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
	"go.bytecodealliance.org/wit"
)

// Guest mode (Options.Guest): the same model and Canonical ABI layout
// (abi.go), emitted from the other side. For every interface the world
// imports, the guest package holds the Go types (the same as the host's,
// with owned and borrowed handles as two named uint32 types) in
// <package>.wit.go, and in <package>.guest.go, built for GOOS=wasip1 only:
// one //go:wasmimport declaration per function with its flattened core
// signature, and a typed wrapper that lowers the arguments into core values
// and guest memory and lifts the results from the return value or from a
// static return area sized from the layout. For an interface the world
// exports, <package>.guest.go holds //go:wasmexport functions under the
// canonical export names calling the implementation the guest sets with
// SetExports, and their cabi_post_ functions.

// Import paths of the guest runtime.
const (
	guestCabiPath = "github.com/wasitls/wasitls/guest/wasi/cabi"
	witvalPath    = "github.com/wasitls/wasitls/cabi/witval"
)

// emitGuest renders the guest package of interface i.
func (m *Model) emitGuest(i *Iface) ([]File, error) {
	e := &emitter{m: m, i: i, helpers: map[string]jen.Code{}, guest: true}
	if err := e.checkNames(); err != nil {
		return nil, err
	}
	role := "The guest imports the interface: call the functions and the methods of the handles."
	if i.Exported {
		role = "The guest exports the interface: it implements Exports and calls SetExports."
	}
	types, err := e.typesFile("Go guest bindings", role, "Handles are owned (R) or borrowed (RBorrow) as the WIT says; drop what you own.")
	if err != nil {
		return nil, err
	}
	var code []jen.Code
	if i.Exported {
		code, err = e.guestExports()
	} else {
		code, err = e.guestImports()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", i.ModuleName, err)
	}
	return e.render(namedFile{i.GoName + ".wit.go", types}, namedFile{i.GoName + ".guest.go", e.glueFile(code, "//go:build wasip1")})
}

// guestResource emits the handle types of a resource: the owned handle R,
// the borrowed handle RBorrow, and R.Borrow. Drop and the methods, which
// call imports, are in the wasip1 file.
func (e *emitter) guestResource(d *Decl) []jen.Code {
	b := d.GoName + "Borrow"
	return []jen.Code{
		group(e.docComment(d, "an owned handle to the WIT resource"), jen.Type().Id(d.GoName).Uint32()),
		jen.Comment(fmt.Sprintf("%s is a borrowed handle to the WIT resource %s: valid while its owner", b, d.Name)).Line().
			Comment("keeps it, never dropped by the borrower.").Line().
			Type().Id(b).Uint32(),
		jen.Comment("Borrow returns a borrowed handle to the same resource.").Line().
			Func().Params(jen.Id("self").Id(d.GoName)).Id("Borrow").Params().Id(b).Block(jen.Return(jen.Id(b).Call(jen.Id("self")))),
	}
}

// guestAliasBorrow emits the borrowed-handle alias beside the alias of a
// resource.
func (e *emitter) guestAliasBorrow(d *Decl, a *Alias) []jen.Code {
	r, ok := a.Target.(*Ref)
	if !ok || rootResource(d) == nil {
		return nil
	}
	return []jen.Code{jen.Comment(fmt.Sprintf("%sBorrow is a borrowed handle to %s.", d.GoName, d.GoName)).Line().
		Type().Id(d.GoName + "Borrow").Op("=").Add(e.declRef(r.Decl, r.Decl.GoName+"Borrow"))}
}

// guestImports emits, per function, the //go:wasmimport declaration and the
// typed wrapper, and per resource the drop.
func (e *emitter) guestImports() (code []jen.Code, err error) {
	defer func() {
		if r := recover(); r != nil {
			ge, ok := r.(genError)
			if !ok {
				panic(r)
			}
			err = ge.err
		}
	}()
	mod := e.qualifiedName()
	for _, d := range e.i.Decls {
		if _, ok := d.Kind.(*Resource); !ok {
			continue
		}
		imp := "import" + d.GoName + "_drop" // not importRDrop, a function r-drop's
		code = append(code,
			jen.Comment("//go:wasmimport "+mod+" [resource-drop]"+d.Name).Line().
				Func().Id(imp).Params(jen.Id("self").Uint32()),
			jen.Comment("Drop drops the handle: the resource is gone once its last handle is. Children").Line().
				Comment("(a pollable of a stream, the streams of a socket) must be dropped first.").Line().
				Func().Params(jen.Id("self").Id(d.GoName)).Id("Drop").Params().Block(gateWait(), jen.Id(imp).Call(jen.Uint32().Call(jen.Id("self")))),
		)
	}
	for _, f := range e.i.Funcs {
		code = append(code, e.guestImport(f)...)
	}
	return code, nil
}

// coreGo is the Go type of a core value in a wasmimport or wasmexport
// signature.
func coreGo(c Core) *jen.Statement {
	switch c {
	case I64:
		return jen.Uint64()
	case CF32:
		return jen.Float32()
	case CF64:
		return jen.Float64()
	}
	return jen.Uint32()
}

// guestFuncName is the Go name part naming f's import and return area; a
// method's joins the names with an underscore, as glueName does.
func guestFuncName(f *Func) string {
	switch f.Kind {
	case Method:
		return f.Res.GoName + "_" + f.GoName
	case Static, Constructor:
		return f.GoName
	}
	return f.GoName
}

// flatMem reports whether t is a string or a list whose elements are in
// their memory form: passed as the address of the Go value itself.
func flatMem(t Type) bool {
	switch t := resolve(t).(type) {
	case Prim:
		return t == String
	case *List:
		return memIdentical(t.Elem)
	}
	return false
}

// hasMem reports whether values of t refer to memory (strings, lists).
func hasMem(t Type) bool { return wit.HasPointer(witOf(t)) }

// guestImport emits f's import declaration and wrapper.
func (e *emitter) guestImport(f *Func) []jen.Code {
	name := guestFuncName(f)
	imp := "import" + name
	pcores, spilled := flatParams(f)
	rcores, retptr := flatResults(f)
	var decl []jen.Code
	for i, c := range pcores {
		decl = append(decl, jen.Id(fmt.Sprintf("p%d", i)).Add(coreGo(c)))
	}
	if retptr {
		decl = append(decl, jen.Id("ret").Uint32())
	}
	sig := jen.Func().Id(imp).Params(decl...)
	if len(rcores) == 1 {
		sig.Add(coreGo(rcores[0]))
	}
	out := []jen.Code{jen.Comment("//go:wasmimport " + e.qualifiedName() + " " + f.WITName).Line().Add(sig)}

	e.tmp = 0
	var body, args, keep []jen.Code
	mem := false
	params := f.Params
	skip := 0
	if f.Kind == Method {
		skip = 1
		args = append(args, jen.Uint32().Call(jen.Id("self")))
		params = params[1:]
	}
	if spilled {
		mem = true
		var all []jen.Code
		tu := paramsType(f)
		if f.Kind == Method {
			all = append(all, jen.Id("self"))
		}
		for _, p := range params {
			all = append(all, jen.Id(gParam(p)))
		}
		body = append(body, jen.Id("spill").Op(":=").Qual(guestCabiPath, "Scratch").Call(jen.Lit(int(size(tu)))))
		offs := fieldOffsets(tu)
		for k, p := range f.Params {
			body = append(body, e.gStore(p.Type, jen.Qual("unsafe", "Add").Call(jen.Id("spill"), jen.Lit(int(offs[k]))), all[k]))
		}
		args = []jen.Code{jen.Qual(guestCabiPath, "Addr").Call(jen.Id("spill"))}
	} else {
		// A string or a list of values in their memory form is passed by
		// the address of the Go value itself and kept alive to the end of
		// the call, with nothing to release. The callee lifts every
		// argument before it lowers any result (the Canonical ABI's order),
		// so when a string or list result makes the host call cabi_realloc,
		// which runs Go code that may grow and so move the goroutine's
		// stack, the arguments' addresses are no longer read. Pinning them
		// with cabi.Addr instead doubled the cost of poll.
		for _, p := range params {
			if hasMem(p.Type) && !flatMem(p.Type) {
				mem = true
			}
		}
		for _, p := range params {
			v := jen.Id(gParam(p))
			if !mem && flatMem(p.Type) {
				data := jen.Qual("unsafe", "SliceData").Call(v)
				if resolve(p.Type) == String {
					data = jen.Qual("unsafe", "StringData").Call(v)
				}
				args = append(args, jen.Uint32().Call(jen.Uintptr().Call(unsafePtr(data))), jen.Uint32().Call(jen.Len(v)))
				keep = append(keep, jen.Qual("runtime", "KeepAlive").Call(v))
				continue
			}
			st, vals := e.gFlat(p.Type, v)
			body = append(body, st...)
			args = append(args, vals...)
		}
	}
	rt := resultType(f)
	if rt != nil && hasMem(rt) {
		mem = true
	}
	// The gate (guest/wasi/cabi, "Gate"): a call with per-call state
	// (memory to lower or lift, a return area) takes it before it lowers
	// anything and releases it once the results are Go values; any other
	// call only waits for it.
	owns := mem || retptr
	gate := gateWait()
	if owns {
		gate = jen.Qual(guestCabiPath, "Enter").Call()
	}
	body = append([]jen.Code{gate}, body...)
	done := false // the result is returned already
	switch {
	case retptr:
		area := "ret" + name
		words := (size(rt) + 7) / 8
		out = append(out, jen.Comment(fmt.Sprintf("%s is the return area of %s, sized from its layout.", area, f.WITName)).Line().
			Var().Id(area).Index(jen.Lit(int(words))).Uint64())
		p := jen.Qual("unsafe", "Pointer").Call(jen.Op("&").Id(area))
		args = append(args, jen.Uint32().Call(jen.Uintptr().Call(p.Clone())))
		body = append(body, jen.Id(imp).Call(args...))
		if shape(f) == shapeResult {
			// Read the case and lift only its payload: no Result value.
			body = append(body, keep...)
			keep = nil
			if r := resolve(rt).(*Result); !mem && branchFreeOK(r.OK) {
				table, stmts := e.guestResultTable(f, r, p, jen.Qual(guestCabiPath, "Leave").Call())
				out = append(out, table)
				body = append(body, stmts...)
			} else {
				body = append(body, e.guestResultDirect(f, p, mem)...)
			}
			done = true
			break
		}
		body = append(body, jen.Id("res").Op(":=").Add(e.gLoad(rt, p)))
	case rt != nil:
		body = append(body, jen.Id("core").Op(":=").Id(imp).Call(args...))
		if shape(f) == shapePlain && !owns && len(keep) == 0 {
			// Nothing to release: return the lifted value (one assignment
			// less, for the inlining budget of the cheapest wrappers).
			body = append(body, jen.Return(e.gLiftFlat(rt, rcores[0], jen.Id("core"))))
			done = true
			break
		}
		body = append(body, jen.Id("res").Op(":=").Add(e.gLiftFlat(rt, rcores[0], jen.Id("core"))))
	default:
		body = append(body, jen.Id(imp).Call(args...))
	}
	if !done {
		body = append(body, keep...)
		if mem {
			body = append(body, jen.Qual(guestCabiPath, "Unpin").Call())
		} else if owns {
			body = append(body, jen.Qual(guestCabiPath, "Leave").Call())
		}
		if rt != nil {
			body = append(body, e.guestShape(f, jen.Id("res"))...)
		}
	}

	doc := e.guestDoc(f)
	sigParams := e.guestParams(f, skip)
	ret := e.guestResults(f)
	switch f.Kind {
	case Method:
		b := e.declRef(f.Res, f.Res.GoName+"Borrow")
		out = append(out, group(doc, jen.Func().Params(jen.Id("self").Add(b)).Id(f.GoName).Params(sigParams...).Add(ret).Block(body...)))
		var fwd []jen.Code
		for _, p := range params {
			fwd = append(fwd, jen.Id(gParam(p)))
		}
		// A conversion, not self.Borrow(): it keeps the forwarder within
		// the inlining budget when the method itself just fits.
		call := jen.Add(b.Clone()).Call(jen.Id("self")).Dot(f.GoName).Call(fwd...)
		var fb jen.Code = call
		if rt != nil {
			fb = jen.Return(call)
		}
		out = append(out, jen.Comment(fmt.Sprintf("%s calls the method %s on the borrowed handle.", f.GoName, f.Base)).Line().
			Func().Params(jen.Id("self").Id(f.Res.GoName)).Id(f.GoName).Params(sigParams...).Add(e.guestResults(f)).Block(fb))
	default:
		out = append(out, group(doc, jen.Func().Id(f.GoName).Params(sigParams...).Add(ret).Block(body...)))
	}
	return out
}

// guestResultDirect returns the statements returning f's result<T, E>,
// whose memory form is in the return area at p, as (T, error): the case
// first, then only its payload, releasing the host's blocks (when mem) and
// the gate once both are Go values.
func (e *emitter) guestResultDirect(f *Func, p jen.Code, mem bool) []jen.Code {
	r := resolve(f.Results[0].Type).(*Result)
	payload := unsafeAt(p, payloadOffset(r))
	unpin := jen.Qual(guestCabiPath, "Leave").Call()
	if mem {
		unpin = jen.Qual(guestCabiPath, "Unpin").Call()
	}
	var errv jen.Code
	var errLoad []jen.Code
	switch {
	case r.Err == nil:
		errv = jen.Qual("errors", "New").Call(jen.Lit(e.qualifiedName() + "#" + f.WITName + ": error"))
	case resolve(r.Err) == String:
		errLoad = []jen.Code{jen.Id("msg").Op(":=").Add(e.gLoad(r.Err, payload))}
		errv = jen.Qual("errors", "New").Call(jen.Id("msg"))
	default:
		errLoad = []jen.Code{jen.Id("err").Op(":=").Add(e.gLoad(r.Err, payload))}
		errv = jen.Id("err")
	}
	ret := func(ok, err jen.Code) jen.Code {
		if r.OK == nil {
			return jen.Return(err)
		}
		return jen.Return(ok, err)
	}
	var zero jen.Code = jen.Null()
	var out []jen.Code
	if r.OK != nil {
		out = append(out, jen.Var().Id("ok").Add(e.goType(r.OK)))
		zero = jen.Id("ok")
	}
	isErr := jen.Op("*").Parens(jen.Op("*").Uint8()).Parens(p).Op("!=").Lit(0)
	out = append(out, jen.If(isErr).Block(append(errLoad, unpin, ret(zero, errv))...))
	if r.OK != nil {
		out = append(out, jen.Id("ok").Op("=").Add(e.gLoad(r.OK, payload)))
	}
	return append(out, unpin, ret(zero, jen.Nil()))
}

// branchFreeOK reports whether the ok case of a result can be read and
// zeroed without a branch: none, or an integer.
func branchFreeOK(t Type) bool {
	if t == nil {
		return true
	}
	p, ok := resolve(t).(Prim)
	return ok && p >= S8 && p <= U64
}

// guestResultTable returns the declaration of f's result table and the
// statements returning f's result<T, E>, whose memory form is in the
// return area at p, as (T, error) without a branch: the case indexes a
// table of two functions, the first returning nil and the second lifting
// the error, and the ok value (none or an integer) is masked to zero when
// the case is the error.
//
// With wazero's termination checks, every branch between the blocks of a
// Go function compiled to wasm goes through a loop header, and every loop
// header calls out of the guest to check whether the module was closed: a
// wrapper with one if costs a check per call, about what the host call
// itself costs (docs/wit2host.md, Guest side). The result<_, E> wrappers
// cannot be inlined into their callers either: the import call takes 57
// of the inliner's budget of 80, and lifting the error does not fit in the
// rest. Without a branch the wrapper, inlined or not, adds no check.
//
// The case is read as the Canonical ABI's u8 and any value but 0 selects
// the error, as guestResultDirect's test does. release (the gate's) runs
// once both are read, before the return.
func (e *emitter) guestResultTable(f *Func, r *Result, p jen.Code, release jen.Code) (jen.Code, []jen.Code) {
	payload := unsafeAt(p, payloadOffset(r))
	table := "result" + guestFuncName(f)
	var lift []jen.Code
	switch {
	case r.Err == nil:
		lift = []jen.Code{jen.Return(jen.Qual("errors", "New").Call(jen.Lit(e.qualifiedName() + "#" + f.WITName + ": error")))}
	default:
		lift = []jen.Code{jen.Id("err").Op(":=").Add(e.gLoad(r.Err, payload)), jen.Return(jen.Id("err"))}
	}
	decl := jen.Comment(fmt.Sprintf("%s returns the error of %s's result,", table, f.WITName)).Line().
		Comment("read from its return area: nil for the ok case, the lifted error").Line().
		Comment("otherwise. Indexed by the case, it keeps the wrapper free of branches.").Line().
		Var().Id(table).Op("=").Index(jen.Lit(2)).Func().Params().Error().Values(
		jen.Line().Func().Params().Error().Block(jen.Return(jen.Nil())),
		jen.Line().Func().Params().Error().Block(lift...),
		jen.Line(),
	)
	// isErr is 1 for any nonzero case byte (its sign bit after x | -x),
	// else 0.
	stmts := []jen.Code{
		jen.Id("isErr").Op(":=").Op("*").Parens(jen.Op("*").Uint8()).Parens(p),
		jen.Id("isErr").Op("=").Parens(jen.Id("isErr").Op("|").Op("-").Id("isErr")).Op(">>").Lit(7),
	}
	errv := jen.Id("err").Op(":=").Id(table).Index(jen.Id("isErr").Op("&").Lit(1)).Call()
	if r.OK == nil {
		return decl, append(stmts, errv, release, jen.Return(jen.Id("err")))
	}
	ok := e.goType(r.OK)
	stmts = append(stmts,
		jen.Id("ok").Op(":=").Add(e.gLoad(r.OK, payload)).Op("&").Parens(jen.Add(ok).Call(jen.Id("isErr")).Op("-").Lit(1)),
		errv, release, jen.Return(jen.Id("ok"), jen.Id("err")))
	return decl, stmts
}

// guestDoc is the doc comment of f's wrapper.
func (e *emitter) guestDoc(f *Func) []jen.Code {
	return comments(funcSentence(f, "calls"), f.Docs, f.WIT)
}

// guestLocals are the names a guest wrapper's body uses besides its
// parameters.
var guestLocals = map[string]bool{"self": true, "res": true, "core": true, "spill": true, "ok": true, "err": true, "isErr": true, "unsafe": true, "witval": true, "errors": true, "math": true}

// gParam is the Go name of parameter p in a guest wrapper: renamed where it
// would shadow what the body uses ("len", "self").
func gParam(p *Param) string {
	n := p.GoName
	if predeclared[n] || guestLocals[n] || (len(n) > 1 && n[0] == 'x' && strings.Trim(n[1:], "0123456789") == "") {
		n += "_"
	}
	return n
}

// guestParams returns the Go parameters of f's wrapper, skipping the first
// skip WIT parameters.
func (e *emitter) guestParams(f *Func, skip int) []jen.Code {
	var out []jen.Code
	for _, p := range f.Params[skip:] {
		out = append(out, jen.Id(gParam(p)).Add(e.goType(p.Type)))
	}
	return out
}

// guestResults returns the Go results of f's wrapper: the shape the host
// side uses (function.go), so that (T, error) and (T, bool) read the same
// in both directions.
func (e *emitter) guestResults(f *Func) *jen.Statement {
	results := e.goResults(f)
	switch len(results) {
	case 0:
		return jen.Null()
	case 1:
		return jen.Add(results[0])
	}
	return jen.Params(results...)
}

// guestShape returns the statements returning the lifted result res in f's
// Go shape.
func (e *emitter) guestShape(f *Func, res jen.Code) []jen.Code {
	switch shape(f) {
	case shapePlain:
		return []jen.Code{jen.Return(res)}
	case shapeOption:
		return []jen.Code{jen.Return(jen.Add(res).Dot("Get").Call())}
	case shapeResult:
		r := f.Results[0].Type.(*Result)
		var errv jen.Code
		switch {
		case r.Err == nil:
			errv = jen.Qual("errors", "New").Call(jen.Lit(e.qualifiedName() + "#" + f.WITName + ": error"))
		case resolve(r.Err) == String:
			errv = jen.Qual("errors", "New").Call(jen.Id("err"))
		default:
			errv = jen.Id("err")
		}
		okv := jen.Id("ok")
		if r.OK == nil {
			okv = jen.Id("_")
		}
		errName := jen.Id("err")
		if r.Err == nil {
			errName = jen.Id("_")
		}
		ret := func(v jen.Code) jen.Code {
			if r.OK == nil {
				return jen.Return(v)
			}
			return jen.Return(jen.Id("ok"), v)
		}
		return []jen.Code{
			jen.List(okv, errName, jen.Id("isErr")).Op(":=").Add(res).Dot("Get").Call(),
			jen.If(jen.Id("isErr")).Block(ret(errv)),
			ret(jen.Nil()),
		}
	case shapeMultiple:
		var vs []jen.Code
		for k := range f.Results {
			vs = append(vs, jen.Add(res).Dot(fmt.Sprintf("F%d", k)))
		}
		return []jen.Code{jen.Return(vs...)}
	}
	return nil
}
