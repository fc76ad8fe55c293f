package generator

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// resultShape is how a function's whole result maps to Go results.
type resultShape int

const (
	shapeNone     resultShape = iota // no result
	shapePlain                       // one Go value
	shapeOption                      // option<T>: (T, bool)
	shapeResult                      // result<T, E>: (T, error) or error
	shapeMultiple                    // named results: one Go value each
)

// shape returns the Go shape of f's results.
func shape(f *Func) resultShape {
	switch len(f.Results) {
	case 0:
		return shapeNone
	case 1:
	default:
		return shapeMultiple
	}
	switch t := f.Results[0].Type.(type) {
	case *Option:
		return shapeOption
	case *Result:
		if errMapped(t) {
			return shapeResult
		}
	}
	return shapePlain
}

// errMapped reports whether a result's error maps to a Go error: it has no
// error payload, a string one, or a declared type that implements error.
func errMapped(r *Result) bool {
	return r.Err == nil || resolve(r.Err) == String || errorDecl(r.Err) != nil
}

// signature returns the Go signature of f, skipping the first skip WIT
// parameters (the self of a method).
func (e *emitter) signature(f *Func, skip int) *jen.Statement {
	params := []jen.Code{jen.Id("ctx").Qual("context", "Context")}
	for _, p := range f.Params[skip:] {
		params = append(params, jen.Id(p.GoName).Add(e.goType(p.Type)))
	}
	results := e.goResults(f)
	s := jen.Params(params...)
	switch len(results) {
	case 0:
	case 1:
		s.Add(results[0])
	default:
		s.Params(results...)
	}
	return s
}

// goResults returns the Go results of f in its shape.
func (e *emitter) goResults(f *Func) []jen.Code {
	var results []jen.Code
	switch shape(f) {
	case shapePlain:
		results = append(results, e.goType(f.Results[0].Type))
	case shapeOption:
		results = append(results, e.goType(f.Results[0].Type.(*Option).Elem), jen.Bool())
	case shapeResult:
		r := f.Results[0].Type.(*Result)
		if r.OK != nil {
			results = append(results, e.goType(r.OK))
		}
		results = append(results, jen.Error())
	case shapeMultiple:
		for _, r := range f.Results {
			results = append(results, jen.Id(r.GoName).Add(e.goType(r.Type)))
		}
	}
	return results
}

// funcSentence is the first sentence of the doc comment of f's Go
// function: "<GoName> <verb> the method <base>.".
func funcSentence(f *Func, verb string) string {
	switch f.Kind {
	case Constructor:
		return fmt.Sprintf("%s %s the constructor of %s.", f.GoName, verb, f.Res.Name)
	case Static:
		return fmt.Sprintf("%s %s the static function %s of %s.", f.GoName, verb, f.Base, f.Res.Name)
	case Method:
		return fmt.Sprintf("%s %s the method %s.", f.GoName, verb, f.Base)
	}
	return fmt.Sprintf("%s %s the function %s.", f.GoName, verb, f.Base)
}

// funcDoc returns the doc comment of f's Go method.
func (e *emitter) funcDoc(f *Func) []jen.Code {
	out := comments(funcSentence(f, "implements"), f.Docs, f.WIT)
	if sh := shape(f); sh == shapeResult {
		r := f.Results[0].Type.(*Result)
		var l string
		switch {
		case r.Err == nil:
			l = "A non-nil error is returned to the guest as the result's error case."
		case resolve(r.Err) == String:
			l = "A non-nil error is returned to the guest as the result's error case, with its message."
		default:
			l = fmt.Sprintf("A non-nil error must be (or wrap, see errors.As) a %s; any other error traps the guest.", e.goType(r.Err).GoString())
		}
		out = append(out, jen.Comment(""), jen.Comment(l))
	}
	return out
}

// host emits the Host interface: constructors, static and freestanding
// functions.
func (e *emitter) host() []jen.Code {
	var methods []jen.Code
	for _, f := range e.i.Funcs {
		if f.Kind == Method {
			continue
		}
		methods = append(methods, e.funcDoc(f)...)
		methods = append(methods, jen.Id(f.GoName).Add(e.signature(f, 0)))
	}
	doc := []jen.Code{
		jen.Comment(fmt.Sprintf("Host is what the host implements for %s: its constructors, static functions", e.qualifiedName())),
		jen.Comment("and freestanding functions. Methods of resources are methods of the resource values."),
	}
	return []jen.Code{group(doc, jen.Type().Id("Host").Interface(methods...))}
}
