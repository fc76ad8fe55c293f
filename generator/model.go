package generator

import (
	"errors"
	"fmt"
	"strings"

	"go.bytecodealliance.org/wit"
)

// The generator works in two steps: it reads the resolved WIT into the small
// model in this file (interfaces, declared types, functions, and type
// expressions), then emits Go from the model. The model holds everything
// the emitters need, already named for Go.

// A Type is a WIT type expression: a Prim, *List, *Tuple, *Option,
// *Result, *Handle, or *Ref to a declared type.
type Type interface{ isType() }

// Prim is a WIT primitive type.
type Prim int

// The primitive types.
const (
	Bool Prim = iota
	S8
	U8
	S16
	U16
	S32
	U32
	S64
	U64
	F32
	F64
	Char
	String
)

var primNames = [...]string{"bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "f32", "f64", "char", "string"}

func (p Prim) String() string { return primNames[p] }

// List is list<Elem>.
type List struct {
	Elem Type
	wit  wit.Type // what it was read from (witOf)
}

// Tuple is tuple<Elems...>.
type Tuple struct {
	Elems []Type
	wit   wit.Type
}

// Option is option<Elem>.
type Option struct {
	Elem Type
	wit  wit.Type
}

// Result is result<OK, Err>; absent payloads are nil.
type Result struct {
	OK, Err Type
	wit     wit.Type
}

// Handle is own<Res> or borrow<Res>; Res may be an alias of the resource.
type Handle struct {
	Own bool
	Res *Decl
	wit wit.Type
}

// Ref names a declared type.
type Ref struct{ Decl *Decl }

func (Prim) isType()    {}
func (*List) isType()   {}
func (*Tuple) isType()  {}
func (*Option) isType() {}
func (*Result) isType() {}
func (*Handle) isType() {}
func (*Ref) isType()    {}

// A Decl is a named WIT type declared in an interface.
type Decl struct {
	Name   string // WIT name
	GoName string
	Iface  *Iface
	Docs   string
	WIT    string // the WIT declaration, for docs
	Kind   DeclKind
	// IsError is set when the type is the error payload of a function's
	// whole result: it then implements error.
	IsError bool
	td      *wit.TypeDef
}

// A DeclKind is *Record, *Variant, *Enum, *Flags, *Resource or *Alias.
type DeclKind interface{ isDeclKind() }

// Record is a WIT record.
type Record struct{ Fields []*Field }

// Field is a record field.
type Field struct {
	Name, GoName, Docs string
	Type               Type
}

// Variant is a WIT variant.
type Variant struct{ Cases []*Case }

// Case is a variant case; Type is nil without payload.
type Case struct {
	Name, GoName, Docs string
	Type               Type
}

// Enum is a WIT enum.
type Enum struct{ Cases []*Case }

// Flags is a WIT flags type.
type Flags struct{ Flags []*Case }

// Resource is a WIT resource.
type Resource struct {
	Ctor    *Func
	Methods []*Func
	Statics []*Func
}

// Alias is `type x = T`, including the aliases `use` creates.
type Alias struct{ Target Type }

func (*Record) isDeclKind()   {}
func (*Variant) isDeclKind()  {}
func (*Enum) isDeclKind()     {}
func (*Flags) isDeclKind()    {}
func (*Resource) isDeclKind() {}
func (*Alias) isDeclKind()    {}

// FuncKind is the kind of a WIT function.
type FuncKind int

// The function kinds.
const (
	Freestanding FuncKind = iota
	Method
	Static
	Constructor
)

// A Func is a WIT function as the guest imports it.
type Func struct {
	WITName string // name on the wire: "[method]input-stream.read"
	Base    string // "read"
	Kind    FuncKind
	Res     *Decl // the resource of a method, static or constructor
	GoName  string
	Params  []*Param
	Results []*Param // one unnamed result, or named results
	Docs    string
	WIT     string // the WIT declaration, for docs
	Iface   *Iface
}

// Param is a function parameter or result.
type Param struct {
	Name, GoName string
	Type         Type
}

// An Iface is one WIT interface, generated as one Go package.
type Iface struct {
	Namespace, Package, Name, Version string
	ModuleName                        string // "wasi:io/streams"
	GoPath, GoName                    string // import path and package name
	Docs                              string
	Decls                             []*Decl
	Funcs                             []*Func
	// Exported is set for an interface the world exports: the guest
	// implements it and the host calls it (export.go), instead of the
	// host implementing it for the guest to import.
	Exported bool
	imported bool // the world imports it (or a type of it is used)
	wit      *wit.Interface
}

// A Model is the set of interfaces to generate.
type Model struct {
	Ifaces []*Iface
	decls  map[*wit.TypeDef]*Decl
	ifaces map[*wit.Interface]*Iface
	root   string
}

// newModel builds the model of every interface the world imports, plus
// every interface their types come from, with Go import paths under root.
func newModel(world *wit.World, root string) (*Model, error) {
	m := &Model{decls: map[*wit.TypeDef]*Decl{}, ifaces: map[*wit.Interface]*Iface{}, root: root}
	var err error
	world.Imports.All()(func(name string, item wit.WorldItem) bool {
		switch item := item.(type) {
		case *wit.InterfaceRef:
			if item.Interface.Name == nil {
				err = fmt.Errorf("world %s imports the anonymous interface %q: name it in a package", worldName(world), name)
				return false
			}
			_, err = m.iface(item.Interface)
		case *wit.TypeDef:
			err = fmt.Errorf("world %s imports the type %q at world level: declare it in an interface", worldName(world), name)
		case *wit.Function:
			err = fmt.Errorf("world %s imports the function %q at world level: declare it in an interface", worldName(world), name)
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	for _, i := range m.Ifaces {
		i.imported = true
	}
	if err := m.exports(world); err != nil {
		return nil, err
	}
	// Interfaces are filled in the order they were reached; fill them all,
	// including those reached only through uses.
	for i := 0; i < len(m.Ifaces); i++ {
		if err := m.fill(m.Ifaces[i]); err != nil {
			return nil, err
		}
	}
	m.assignPaths()
	m.markErrors()
	return m, nil
}

// exports adds the interfaces the world exports, marked Exported.
func (m *Model) exports(world *wit.World) error {
	var err error
	world.Exports.All()(func(name string, item wit.WorldItem) bool {
		switch item := item.(type) {
		case *wit.InterfaceRef:
			if item.Interface.Name == nil {
				err = fmt.Errorf("world %s exports the anonymous interface %q: name it in a package", worldName(world), name)
				return false
			}
			if i, ok := m.ifaces[item.Interface]; ok && i.imported {
				err = fmt.Errorf("world %s both imports and exports %s: not supported (an import that uses its types imports it too)", worldName(world), i.ModuleName)
				return false
			}
			var i *Iface
			if i, err = m.iface(item.Interface); err == nil {
				i.Exported = true
			}
		case *wit.TypeDef:
			err = fmt.Errorf("world %s exports the type %q at world level: declare it in an interface", worldName(world), name)
		case *wit.Function:
			err = fmt.Errorf("world %s exports the function %q at world level: declare it in an interface", worldName(world), name)
		}
		return err == nil
	})
	return err
}

func worldName(w *wit.World) string {
	return w.Package.Name.UnversionedString() + "/" + w.Name
}

// iface returns the model of wi, creating it (empty) on first sight.
func (m *Model) iface(wi *wit.Interface) (*Iface, error) {
	if i, ok := m.ifaces[wi]; ok {
		return i, nil
	}
	if wi.Name == nil || wi.Package == nil {
		return nil, fmt.Errorf("anonymous interfaces are not supported")
	}
	id := wi.Package.Name
	i := &Iface{
		Namespace:  id.Namespace,
		Package:    id.Package,
		Name:       *wi.Name,
		ModuleName: id.Namespace + ":" + id.Package + "/" + *wi.Name,
		Docs:       wi.Docs.Contents,
		wit:        wi,
	}
	if id.Version != nil {
		i.Version = id.Version.String()
	}
	i.GoName = packageName(i.Package, i.Name)
	m.ifaces[wi] = i
	m.Ifaces = append(m.Ifaces, i)
	return i, nil
}

// assignPaths gives each interface its import path, adding the version to
// the path where two versions of one package hold the same interface.
func (m *Model) assignPaths() {
	count := map[string]int{}
	for _, i := range m.Ifaces {
		count[i.ModuleName]++
	}
	for _, i := range m.Ifaces {
		p := m.root + "/" + i.Namespace + "/" + i.Package + "/"
		if count[i.ModuleName] > 1 && i.Version != "" {
			p += "v" + i.Version + "/"
		}
		i.GoPath = p + i.Name
	}
}

// fill reads the types and functions of i.
func (m *Model) fill(i *Iface) error {
	var err error
	i.wit.TypeDefs.All()(func(name string, td *wit.TypeDef) bool {
		var d *Decl
		d, err = m.decl(td)
		if err == nil {
			i.Decls = append(i.Decls, d)
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	i.wit.Functions.All()(func(name string, f *wit.Function) bool {
		var fn *Func
		fn, err = m.function(i, f)
		if err != nil {
			err = fmt.Errorf("%s#%s: %w", i.ModuleName, f.Name, err)
			return false
		}
		i.Funcs = append(i.Funcs, fn)
		if fn.Res != nil {
			r := fn.Res.Kind.(*Resource)
			switch fn.Kind {
			case Constructor:
				r.Ctor = fn
			case Method:
				r.Methods = append(r.Methods, fn)
			case Static:
				r.Statics = append(r.Statics, fn)
			}
		}
		return true
	})
	return err
}

// decl returns the model of the named type td.
func (m *Model) decl(td *wit.TypeDef) (*Decl, error) {
	if d, ok := m.decls[td]; ok {
		return d, nil
	}
	if td.Name == nil {
		return nil, fmt.Errorf("internal error: anonymous type declared")
	}
	wi, ok := td.Owner.(*wit.Interface)
	if !ok {
		return nil, fmt.Errorf("type %q is declared in a world: declare it in an interface", *td.Name)
	}
	i, err := m.iface(wi)
	if err != nil {
		return nil, err
	}
	d := &Decl{
		Name:   *td.Name,
		GoName: exported(*td.Name),
		Iface:  i,
		Docs:   td.Docs.Contents,
		td:     td,
	}
	m.decls[td] = d
	switch k := td.Kind.(type) {
	case *wit.Record:
		r := &Record{}
		for _, f := range k.Fields {
			t, err := m.typ(f.Type)
			if err != nil {
				return nil, err
			}
			r.Fields = append(r.Fields, &Field{Name: f.Name, GoName: exported(f.Name), Docs: f.Docs.Contents, Type: t})
		}
		if len(r.Fields) == 0 {
			return nil, fmt.Errorf("record %s has no fields: the Canonical ABI has no empty records (a component declaring one does not validate)", d.Name)
		}
		d.Kind = r
		d.WIT = "record " + d.Name
	case *wit.Variant:
		v := &Variant{}
		for _, c := range k.Cases {
			var t Type
			if c.Type != nil {
				if t, err = m.typ(c.Type); err != nil {
					return nil, err
				}
			}
			gn := exported(c.Name)
			if gn == "Tag" {
				gn = "TagValue"
			}
			v.Cases = append(v.Cases, &Case{Name: c.Name, GoName: gn, Docs: c.Docs.Contents, Type: t})
		}
		d.Kind = v
		d.WIT = "variant " + d.Name
	case *wit.Enum:
		e := &Enum{}
		for _, c := range k.Cases {
			e.Cases = append(e.Cases, &Case{Name: c.Name, GoName: exported(c.Name), Docs: c.Docs.Contents})
		}
		d.Kind = e
		d.WIT = "enum " + d.Name
	case *wit.Flags:
		f := &Flags{}
		for _, c := range k.Flags {
			f.Flags = append(f.Flags, &Case{Name: c.Name, GoName: exported(c.Name), Docs: c.Docs.Contents})
		}
		if len(f.Flags) == 0 {
			return nil, fmt.Errorf("flags %s has no flags: the Canonical ABI has no empty flags (a component declaring one does not validate)", d.Name)
		}
		d.Kind = f
		d.WIT = "flags " + d.Name
	case *wit.Resource:
		d.Kind = &Resource{}
		d.WIT = "resource " + d.Name
	case wit.Type, *wit.List, *wit.Option, *wit.Result, *wit.Tuple, *wit.Own, *wit.Borrow:
		t, err := m.kind(td)
		if err != nil {
			return nil, err
		}
		d.Kind = &Alias{Target: t}
		if r, ok := t.(*Ref); ok && r.Decl.Iface != i {
			d.WIT = "use " + r.Decl.Iface.ModuleName + ".{" + r.Decl.Name
			if r.Decl.Name != d.Name {
				d.WIT += " as " + d.Name
			}
			d.WIT += "}"
		} else {
			d.WIT = "type " + d.Name + " = " + witString(t)
		}
	case nil:
		return nil, fmt.Errorf("type %q: %s", d.Name, unknownKind)
	default:
		return nil, fmt.Errorf("type %q: unsupported WIT kind %s", d.Name, td.Kind.WITKind())
	}
	return d, nil
}

// typ converts a WIT type expression.
func (m *Model) typ(t wit.Type) (Type, error) {
	switch t := t.(type) {
	case wit.Bool:
		return Bool, nil
	case wit.S8:
		return S8, nil
	case wit.U8:
		return U8, nil
	case wit.S16:
		return S16, nil
	case wit.U16:
		return U16, nil
	case wit.S32:
		return S32, nil
	case wit.U32:
		return U32, nil
	case wit.S64:
		return S64, nil
	case wit.U64:
		return U64, nil
	case wit.F32:
		return F32, nil
	case wit.F64:
		return F64, nil
	case wit.Char:
		return Char, nil
	case wit.String:
		return String, nil
	case *wit.TypeDef:
		if t.Name != nil {
			d, err := m.decl(t)
			if err != nil {
				return nil, err
			}
			return &Ref{d}, nil
		}
		return m.kind(t)
	}
	return nil, fmt.Errorf("unsupported WIT type %T", t)
}

// kind converts the kind of type definition td: an anonymous one, or the
// target of an alias.
func (m *Model) kind(td *wit.TypeDef) (Type, error) {
	switch k := td.Kind.(type) {
	case *wit.List:
		e, err := m.typ(k.Type)
		return &List{Elem: e, wit: td}, err
	case *wit.Option:
		e, err := m.typ(k.Type)
		return &Option{Elem: e, wit: td}, err
	case *wit.Result:
		r := &Result{wit: td}
		var err error
		if k.OK != nil {
			if r.OK, err = m.typ(k.OK); err != nil {
				return nil, err
			}
		}
		if k.Err != nil {
			if r.Err, err = m.typ(k.Err); err != nil {
				return nil, err
			}
		}
		return r, nil
	case *wit.Tuple:
		tu := &Tuple{wit: td}
		for _, e := range k.Types {
			et, err := m.typ(e)
			if err != nil {
				return nil, err
			}
			tu.Elems = append(tu.Elems, et)
		}
		if len(tu.Elems) == 0 || len(tu.Elems) > 16 {
			return nil, fmt.Errorf("tuples of %d elements are not supported (1 to 16)", len(tu.Elems))
		}
		return tu, nil
	case *wit.Own:
		d, err := m.decl(k.Type)
		return &Handle{Own: true, Res: d, wit: td}, err
	case *wit.Borrow:
		d, err := m.decl(k.Type)
		return &Handle{Own: false, Res: d, wit: td}, err
	case wit.Type:
		return m.typ(k)
	case nil:
		return nil, errors.New(unknownKind)
	default:
		return nil, fmt.Errorf("unsupported WIT type %s (component-model async types are not supported)", k.WITKind())
	}
}

// unknownKind is the error for a type go.bytecodealliance.org/wit reads
// without a kind: one newer than the WIT it knows.
const unknownKind = "unsupported WIT type: a kind the WIT library does not know, such as a fixed-length list<T, N>"

// function converts a WIT function.
func (m *Model) function(i *Iface, f *wit.Function) (*Func, error) {
	if strings.HasPrefix(f.Name, "[async") {
		// The WIT library reads async func as a function named [async]f.
		return nil, errors.New("async functions are not supported (component-model async)")
	}
	fn := &Func{WITName: f.Name, Base: f.BaseName(), Docs: f.Docs.Contents, Iface: i}
	var resTD *wit.TypeDef
	switch k := f.Kind.(type) {
	case *wit.Freestanding:
		fn.Kind = Freestanding
	case *wit.Method:
		fn.Kind = Method
		resTD, _ = k.Type.(*wit.TypeDef)
	case *wit.Static:
		fn.Kind = Static
		resTD, _ = k.Type.(*wit.TypeDef)
	case *wit.Constructor:
		fn.Kind = Constructor
		resTD, _ = k.Type.(*wit.TypeDef)
	}
	if fn.Kind != Freestanding {
		if resTD == nil {
			return nil, fmt.Errorf("function of an unknown resource")
		}
		d, err := m.decl(resTD)
		if err != nil {
			return nil, err
		}
		fn.Res = d
	}
	switch fn.Kind {
	case Freestanding:
		fn.GoName = exported(fn.Base)
	case Method:
		fn.GoName = exported(fn.Base)
		if guestResourceNames[fn.GoName] {
			fn.GoName += "Method"
		}
	case Static:
		fn.GoName = fn.Res.GoName + exported(fn.Base)
	case Constructor:
		fn.GoName = "New" + fn.Res.GoName
	}
	for _, p := range f.Params {
		t, err := m.typ(p.Type)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		fn.Params = append(fn.Params, &Param{Name: p.Name, GoName: local(p.Name), Type: t})
	}
	for _, p := range f.Results {
		t, err := m.typ(p.Type)
		if err != nil {
			return nil, fmt.Errorf("result: %w", err)
		}
		fn.Results = append(fn.Results, &Param{Name: p.Name, GoName: local(p.Name), Type: t})
	}
	// a-b and a-B are both aB: keep the Go names apart.
	seen := map[string]bool{}
	for _, p := range fn.Params {
		for seen[p.GoName] {
			p.GoName += "_"
		}
		seen[p.GoName] = true
	}
	// Only now: the wit package panics on the types refused above.
	fn.WIT = strings.TrimSuffix(f.WIT(nil, fn.Base), ";")
	return fn, nil
}

// markErrors marks the declared types that are the error payload of a
// function's whole result: they implement error.
func (m *Model) markErrors() {
	for _, i := range m.Ifaces {
		for _, f := range i.Funcs {
			if len(f.Results) != 1 {
				continue
			}
			if r, ok := f.Results[0].Type.(*Result); ok && r.Err != nil {
				if d := errorDecl(r.Err); d != nil {
					d.IsError = true
				}
			}
		}
	}
}

// errorDecl returns the declaration that can implement error for an error
// payload type t (through aliases), or nil.
func errorDecl(t Type) *Decl {
	r, ok := t.(*Ref)
	if !ok {
		return nil
	}
	switch k := r.Decl.Kind.(type) {
	case *Record:
		for _, f := range k.Fields {
			if f.GoName == "Error" {
				return nil // the field would clash with the method
			}
		}
		return r.Decl
	case *Variant:
		for _, c := range k.Cases {
			if c.GoName == "Error" {
				return nil // the case's field would clash with the method
			}
		}
		return r.Decl
	case *Enum, *Flags:
		return r.Decl
	case *Alias:
		return errorDecl(k.Target)
	}
	return nil
}

// witPrims are the WIT types of the primitives, indexed by Prim.
var witPrims = [...]wit.Type{
	wit.Bool{}, wit.S8{}, wit.U8{}, wit.S16{}, wit.U16{}, wit.S32{}, wit.U32{},
	wit.S64{}, wit.U64{}, wit.F32{}, wit.F64{}, wit.Char{}, wit.String{},
}

// witOf returns the WIT type t was read from, for the wit package to answer
// questions about it (nil for a type built by hand in a test).
func witOf(t Type) wit.Type {
	switch t := t.(type) {
	case Prim:
		return witPrims[t]
	case *List:
		return t.wit
	case *Tuple:
		return t.wit
	case *Option:
		return t.wit
	case *Result:
		return t.wit
	case *Handle:
		return t.wit
	case *Ref:
		return t.Decl.td
	}
	return nil
}

// tupleOf returns the tuple of ts, as a function's parameters or results
// lay out.
func tupleOf(ts []Type) *Tuple {
	w := &wit.Tuple{}
	for _, t := range ts {
		w.Types = append(w.Types, witOf(t))
	}
	return &Tuple{Elems: ts, wit: &wit.TypeDef{Kind: w}}
}

// touchesInstance reports whether lifting or lowering t touches the
// instance: strings and lists live in its memory, handles in its table.
func touchesInstance(t Type) bool {
	w := witOf(t)
	return wit.HasPointer(w) || wit.HasResource(w)
}

// holdsOwn reports whether t may hold an own handle, which moves into or
// out of the table. The wit package tells whether t holds handles and
// whether any is a borrow; a list or option of borrows is told apart from
// a mix by its element, and a record, tuple or variant mixing both is
// taken to hold an own (which costs its glue an empty Commit, never a
// missed one). WIT results hold no borrows, so for them this is exact.
func holdsOwn(t Type) bool {
	w := witOf(t)
	if !wit.HasResource(w) {
		return false
	}
	if !wit.HasBorrow(w) {
		return true
	}
	switch t := resolve(t).(type) {
	case *Handle:
		return t.Own
	case *List:
		return holdsOwn(t.Elem)
	case *Option:
		return holdsOwn(t.Elem)
	}
	return true
}

// rootResource returns the resource declaration behind d, through aliases.
func rootResource(d *Decl) *Decl {
	for {
		switch k := d.Kind.(type) {
		case *Resource:
			return d
		case *Alias:
			r, ok := k.Target.(*Ref)
			if !ok {
				return nil
			}
			d = r.Decl
		default:
			return nil
		}
	}
}

// witString renders a type expression in WIT syntax.
func witString(t Type) string {
	return witText(t, func(t Type) string {
		switch t := t.(type) {
		case *Handle:
			if t.Own {
				return t.Res.Name
			}
			return "borrow<" + t.Res.Name + ">"
		case *Ref:
			return t.Decl.Name
		}
		return "?"
	})
}

// witText renders a type expression in WIT syntax, with leaf rendering its
// handles and named types.
func witText(t Type, leaf func(Type) string) string {
	in := func(t Type) string { return witText(t, leaf) }
	switch t := t.(type) {
	case Prim:
		return t.String()
	case *List:
		return "list<" + in(t.Elem) + ">"
	case *Option:
		return "option<" + in(t.Elem) + ">"
	case *Result:
		switch {
		case t.OK == nil && t.Err == nil:
			return "result"
		case t.Err == nil:
			return "result<" + in(t.OK) + ">"
		case t.OK == nil:
			return "result<_, " + in(t.Err) + ">"
		}
		return "result<" + in(t.OK) + ", " + in(t.Err) + ">"
	case *Tuple:
		var s []string
		for _, e := range t.Elems {
			s = append(s, in(e))
		}
		return "tuple<" + strings.Join(s, ", ") + ">"
	}
	return leaf(t)
}
