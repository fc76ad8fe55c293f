package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// Resources a guest implements (declared by an interface it exports), in
// guest mode. The guest keeps a Go value per resource, RImpl (one method
// per WIT method, and Drop, the destructor), in a cabi.Reps table whose
// index is the rep the host knows it by; R is an own handle to one, in the
// host's table. ROf(impl) makes a resource ([resource-new]) and returns
// its handle, R.Impl finds the implementation behind a handle
// ([resource-rep]), R.Drop drops the handle ([resource-drop], after which
// the host calls the destructor export [dtor]R, which calls RImpl.Drop).
// A method's self and any borrow<R> argument arrive as the rep and are
// passed as the RImpl; constructors and statics are methods of Exports
// returning R handles. This is what wit-bindgen and wit-component expect
// of a core module, and what the host side (export.go) drives.

// repsVar is the name of the cabi.Reps table of resource d.
func repsVar(d *Decl) string { return "reps" + d.GoName }

// implOf returns the implementation behind rep x of the resource of h.
func (e *emitter) implOf(h *Handle, x jen.Code) jen.Code {
	r := guestRes(h)
	if r.Iface != e.i {
		fail("the resource %s is exported by another interface (%s): not supported", r.Name, r.Iface.ModuleName)
	}
	return jen.Id(repsVar(r)).Dot("Get").Call(x)
}

// guestImplResource emits the types of a resource the guest implements:
// the own handle R and the interface RImpl.
func (e *emitter) guestImplResource(d *Decl, r *Resource) []jen.Code {
	impl := d.GoName + "Impl"
	var methods []jen.Code
	for _, f := range r.Methods {
		methods = append(methods, comments(fmt.Sprintf("%s implements the method %s.", f.GoName, f.Base), f.Docs, f.WIT)...)
		methods = append(methods, jen.Id(f.GoName).Params(e.guestParams(f, 1)...).Add(e.guestResults(f)))
	}
	methods = append(methods,
		jen.Comment("Drop is the destructor, called once the resource's own handle is dropped."),
		jen.Id("Drop").Params())
	doc := e.docComment(d, "an own handle to the WIT resource")
	doc = append(doc[:1], append([]jen.Code{
		jen.Comment(""),
		jen.Comment(fmt.Sprintf("The guest implements it: %sOf makes one from a %s, Impl finds the", d.GoName, impl)),
		jen.Comment("implementation behind a handle, Drop drops the handle."),
	}, doc[1:]...)...)
	return []jen.Code{
		group(doc, jen.Type().Id(d.GoName).Uint32()),
		jen.Comment(fmt.Sprintf("%s is what the guest implements for each %s: one method per WIT", impl, d.Name)).Line().
			Comment("method (self is the receiver; a borrow<" + d.Name + "> argument is its " + impl + "), and").Line().
			Comment("Drop.").Line().
			Type().Id(impl).Interface(methods...),
	}
}

// guestImplGlue emits the wasip1 part of resource d the guest implements:
// the [export] imports, the reps table, ROf, R.Impl, R.Drop and the
// destructor export.
func (e *emitter) guestImplGlue(d *Decl) []jen.Code {
	mod := "[export]" + e.qualifiedName()
	impl, reps := d.GoName+"Impl", repsVar(d)
	imp := func(op, name string, params []jen.Code, result bool) jen.Code {
		f := jen.Func().Id(name).Params(params...)
		if result {
			f.Uint32()
		}
		return jen.Comment("//go:wasmimport " + mod + " " + op + d.Name).Line().Add(f)
	}
	// Lower case after the underscore: no function's or method's import.
	newF, repF, dropF := "import"+d.GoName+"_new", "import"+d.GoName+"_rep", "import"+d.GoName+"_drop"
	self := jen.Id("self").Id(d.GoName)
	return []jen.Code{
		imp("[resource-new]", newF, []jen.Code{jen.Id("rep").Uint32()}, true),
		imp("[resource-rep]", repF, []jen.Code{jen.Id("handle").Uint32()}, true),
		imp("[resource-drop]", dropF, []jen.Code{jen.Id("handle").Uint32()}, false),
		jen.Comment(fmt.Sprintf("%s holds the %s the guest implements, by rep.", reps, impl)).Line().
			Var().Id(reps).Qual(guestCabiPath, "Reps").Types(jen.Id(impl)),
		jen.Comment(fmt.Sprintf("%sOf makes impl a %s and returns the own handle to it, for a constructor,", d.GoName, d.Name)).Line().
			Comment("or any function returning one, to return.").Line().
			Func().Id(d.GoName+"Of").Params(jen.Id("impl").Id(impl)).Id(d.GoName).Block(
			jen.Id("rep").Op(":=").Id(reps).Dot("Add").Call(jen.Id("impl")),
			gateWait(),
			jen.Return(jen.Id(d.GoName).Call(jen.Id(newF).Call(jen.Id("rep"))))),
		jen.Comment("Impl returns the implementation behind the handle.").Line().
			Func().Params(self).Id("Impl").Params().Id(impl).Block(
			gateWait(),
			jen.Return(jen.Id(reps).Dot("Get").Call(jen.Id(repF).Call(jen.Uint32().Call(jen.Id("self")))))),
		jen.Comment("Drop drops the handle: the host then calls the destructor, "+impl+".Drop.").Line().
			Func().Params(self.Clone()).Id("Drop").Params().Block(gateWait(), jen.Id(dropF).Call(jen.Uint32().Call(jen.Id("self")))),
		jen.Comment("//go:wasmexport "+e.qualifiedName()+"#[dtor]"+d.Name).Line().
			Func().Id("dtor"+d.GoName).Params(jen.Id("rep").Uint32()).Block(
			jen.Qual(guestCabiPath, "Suspend").Call(),
			jen.Id(reps).Dot("Remove").Call(jen.Id("rep")).Dot("Drop").Call(),
			jen.Qual(guestCabiPath, "Resume").Call()),
	}
}

// gateWait returns cabi.Wait(), which every import call site runs first (the
// gate, guest/wasi/cabi).
func gateWait() jen.Code { return jen.Qual(guestCabiPath, "Wait").Call() }
