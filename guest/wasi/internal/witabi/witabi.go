//go:build !wasip1

// Package witabi loads the project's WIT on the host and answers the Canonical
// ABI questions the guest bindings' tests ask: the layout of a function's
// result, the offset of a variant's payload or a record's field, and the core
// wasm signature an import must have.
package witabi

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"go.bytecodealliance.org/wit"
)

var (
	once    sync.Once
	resolve *wit.Resolve
	loadErr error
)

// Load returns the resolved WIT of the module's wit/ directory.
func Load(t testing.TB) *wit.Resolve {
	t.Helper()
	once.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			loadErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				loadErr = fmt.Errorf("witabi: no go.mod above the working directory")
				return
			}
			dir = parent
		}
		resolve, loadErr = wit.LoadWIT(filepath.Join(dir, "wit"))
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return resolve
}

// Interface returns the interface named like an import module,
// "wasi:io/streams@0.2.8".
func Interface(t testing.TB, r *wit.Resolve, module string) *wit.Interface {
	t.Helper()
	for _, i := range r.Interfaces {
		if i.Name == nil {
			continue
		}
		p := i.Package.Name
		name := p.Namespace + ":" + p.Package + "/" + *i.Name
		if p.Version != nil {
			name += "@" + p.Version.String()
		}
		if name == module {
			return i
		}
	}
	t.Fatalf("witabi: no interface %s", module)
	return nil
}

// Func returns the function of module named as its import, such as
// "[method]input-stream.read".
func Func(t testing.TB, r *wit.Resolve, module, name string) *wit.Function {
	t.Helper()
	i := Interface(t, r, module)
	f := i.Functions.Get(name)
	if f == nil {
		t.Fatalf("witabi: no function %s in %s", name, module)
	}
	return f
}

// Result returns the single result type of module#name.
func Result(t testing.TB, r *wit.Resolve, module, name string) wit.Type {
	t.Helper()
	f := Func(t, r, module, name)
	if len(f.Results) != 1 {
		t.Fatalf("witabi: %s#%s has %d results", module, name, len(f.Results))
	}
	return f.Results[0].Type
}

// Type returns the named type of module.
func Type(t testing.TB, r *wit.Resolve, module, name string) wit.Type {
	t.Helper()
	i := Interface(t, r, module)
	td := i.TypeDefs.Get(name)
	if td == nil {
		t.Fatalf("witabi: no type %s in %s", name, module)
	}
	return td
}

func kind(w wit.Type) wit.TypeDefKind {
	for {
		td, ok := w.(*wit.TypeDef)
		if !ok {
			return nil
		}
		if inner, ok := td.Kind.(wit.Type); ok {
			w = inner
			continue
		}
		return td.Kind
	}
}

// Cases returns the case types of a variant, option, result or enum (nil
// entries for cases without payload); ok is false for other kinds.
func Cases(w wit.Type) ([]wit.Type, bool) {
	switch k := kind(w).(type) {
	case *wit.Result:
		return []wit.Type{k.OK, k.Err}, true
	case *wit.Option:
		return []wit.Type{nil, k.Type}, true
	case *wit.Variant:
		var out []wit.Type
		for _, c := range k.Cases {
			out = append(out, c.Type)
		}
		return out, true
	}
	return nil, false
}

// Case returns case i of a variant-like type.
func Case(t testing.TB, w wit.Type, i int) wit.Type {
	t.Helper()
	cs, ok := Cases(w)
	if !ok || i >= len(cs) || cs[i] == nil {
		t.Fatalf("witabi: %s has no payload for case %d", w.TypeName(), i)
	}
	return cs[i]
}

// PayloadOffset is the offset of a variant-like type's payload: the
// discriminant's size aligned to the largest case alignment.
//
// See CanonicalABI.md, "Element Size" (variant) and "Despecialization".
func PayloadOffset(t testing.TB, w wit.Type) uintptr {
	t.Helper()
	cs, ok := Cases(w)
	if !ok {
		t.Fatalf("witabi: %s is not a variant", w.TypeName())
	}
	disc := uintptr(1)
	switch {
	case len(cs) > 1<<16:
		disc = 4
	case len(cs) > 1<<8:
		disc = 2
	}
	maxAlign := uintptr(1)
	for _, c := range cs {
		if c != nil {
			maxAlign = max(maxAlign, c.Align())
		}
	}
	return alignTo(disc, maxAlign)
}

// FieldOffsets returns the offsets of a record's fields or a tuple's
// elements.
func FieldOffsets(t testing.TB, w wit.Type) []uintptr {
	t.Helper()
	var types []wit.Type
	switch k := kind(w).(type) {
	case *wit.Record:
		for _, f := range k.Fields {
			types = append(types, f.Type)
		}
	case *wit.Tuple:
		types = k.Types
	default:
		t.Fatalf("witabi: %s is not a record or tuple", w.TypeName())
	}
	var out []uintptr
	var off uintptr
	for _, ft := range types {
		off = alignTo(off, ft.Align())
		out = append(out, off)
		off += ft.Size()
	}
	return out
}

func alignTo(n, a uintptr) uintptr { return (n + a - 1) &^ (a - 1) }

// CheckLayout fails t unless the Go type of v has w's size and alignment.
func CheckLayout(t testing.TB, v any, w wit.Type) {
	t.Helper()
	gt := reflect.TypeOf(v)
	if gt.Size() != w.Size() || uintptr(gt.Align()) != w.Align() {
		t.Errorf("%v: Go size %d align %d, WIT %s size %d align %d",
			gt, gt.Size(), gt.Align(), describe(w), w.Size(), w.Align())
	}
}

// CheckOffset fails t unless field of v's Go type sits at want.
func CheckOffset(t testing.TB, v any, field string, want uintptr) {
	t.Helper()
	gt := reflect.TypeOf(v)
	f, ok := gt.FieldByName(field)
	if !ok {
		t.Fatalf("%v has no field %s", gt, field)
	}
	if f.Offset != want {
		t.Errorf("%v.%s: Go offset %d, WIT offset %d", gt, field, f.Offset, want)
	}
}

// CheckFits fails t unless the case payload w fits in field of v's Go type
// (size and alignment), for union payloads read through a view type.
func CheckFits(t testing.TB, v any, field string, w wit.Type) {
	t.Helper()
	gt := reflect.TypeOf(v)
	f, ok := gt.FieldByName(field)
	if !ok {
		t.Fatalf("%v has no field %s", gt, field)
	}
	if f.Type.Size() < w.Size() || uintptr(f.Type.Align()) < w.Align() {
		t.Errorf("%v.%s (size %d align %d) cannot hold %s (size %d align %d)",
			gt, field, f.Type.Size(), f.Type.Align(), describe(w), w.Size(), w.Align())
	}
}

func describe(w wit.Type) string {
	if n := w.TypeName(); n != "" {
		return n
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", kind(w)), "*wit.")
}

// CoreSignature returns the core wasm parameter and result types of an
// imported function, by the Canonical ABI's flattening for lowering: "i32",
// "i64", "f32", "f64".
func CoreSignature(f *wit.Function) (params, results []string) {
	cf := f.CoreFunction(wit.Imported)
	for _, p := range cf.Params {
		params = append(params, coreType(p.Type))
	}
	for _, r := range cf.Results {
		results = append(results, coreType(r.Type))
	}
	return params, results
}

func coreType(t wit.Type) string {
	switch t.(type) {
	case wit.U64, wit.S64:
		return "i64"
	case wit.F32:
		return "f32"
	case wit.F64:
		return "f64"
	}
	return "i32"
}
