package runtime

import (
	"context"
	"math"
	"reflect"

	"github.com/tetratelabs/wazero/api"
)

// A function an extension gives wazero's WithFunc is any Go function of
// the shape wazero takes: an optional context.Context first, then an
// api.Module if there is a context, then parameters and results of the
// kinds int32, uint32 (i32), int64, uint64 (i64), float32 (f32), float64
// (f64) and uintptr (externref). wazero calls it through reflect
// (reflect.Value.Call); the guard, to wrap that call, would have to make
// a second function through reflect (reflect.MakeFunc) for wazero to
// call, some 300 ns more a call. Instead the guarded builder reads the
// function's type once, at Export, exactly as wazero does, and registers
// an api.GoModuleFunction that decodes the parameters off the stack,
// calls the function and encodes its results, under the guard: directly,
// without reflect, for the common shapes shapeFunc handles, and through
// one reflect.Value.Call for any other, as wazero would. A function
// wazero refuses is given to wazero as it is, to be refused with
// wazero's own error.

var (
	contextType = reflect.TypeFor[context.Context]()
	moduleType  = reflect.TypeFor[api.Module]()
)

// funcValueType is the wasm value type of a parameter or result of kind k
// in a function for WithFunc, as wazero maps it; false for a kind wazero
// refuses.
func funcValueType(k reflect.Kind) (api.ValueType, bool) {
	switch k {
	case reflect.Int32, reflect.Uint32:
		return api.ValueTypeI32, true
	case reflect.Int64, reflect.Uint64:
		return api.ValueTypeI64, true
	case reflect.Float32:
		return api.ValueTypeF32, true
	case reflect.Float64:
		return api.ValueTypeF64, true
	case reflect.Uintptr:
		return api.ValueTypeExternref, true
	}
	return 0, false
}

// parseFunc reads fn, given to WithFunc, as wazero does: the wasm types
// of its parameters and results, and an api.GoModuleFunction calling it
// (not guarded). ok is false when wazero refuses fn, which is then left
// to wazero to refuse.
func parseFunc(fn any) (call api.GoModuleFunction, params, results []api.ValueType, ok bool) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func {
		return nil, nil, nil, false
	}
	t := v.Type()
	// wazero's rule: an interface first that is an api.Module is refused,
	// one that is a context.Context is passed the call's context, and an
	// api.Module second (any type that is one) the calling module.
	var withCtx, withMod bool
	if t.NumIn() > 0 && t.In(0).Kind() == reflect.Interface {
		if t.In(0).Implements(moduleType) {
			return nil, nil, nil, false
		}
		withCtx = t.In(0).Implements(contextType)
		withMod = withCtx && t.NumIn() >= 2 && t.In(1).Implements(moduleType)
	}
	first := 0
	if withCtx {
		first++
	}
	if withMod {
		first++
	}
	for i := first; i < t.NumIn(); i++ {
		vt, ok := funcValueType(t.In(i).Kind())
		if !ok {
			return nil, nil, nil, false
		}
		params = append(params, vt)
	}
	for i := range t.NumOut() {
		vt, ok := funcValueType(t.Out(i).Kind())
		if !ok {
			return nil, nil, nil, false
		}
		results = append(results, vt)
	}
	if shaped := shapeFunc(fn); shaped != nil {
		return shaped, params, results, true
	}
	return newReflectFunc(v, withCtx, withMod), params, results, true
}

// shapeFunc is fn as an api.GoModuleFunction calling it without reflect,
// or nil when fn is not of one of the common shapes: after an optional
// context.Context and api.Module, up to four uint32 parameters and no
// result or one uint32. An i32 parameter is the stack value's low 32 bits
// and a uint32 result is zero-extended, as wazero decodes and encodes
// them.
func shapeFunc(fn any) api.GoModuleFunc {
	switch f := fn.(type) {
	case func():
		return func(context.Context, api.Module, []uint64) { f() }
	case func(uint32):
		return func(_ context.Context, _ api.Module, s []uint64) { f(uint32(s[0])) }
	case func(uint32, uint32):
		return func(_ context.Context, _ api.Module, s []uint64) { f(uint32(s[0]), uint32(s[1])) }
	case func(uint32, uint32, uint32):
		return func(_ context.Context, _ api.Module, s []uint64) { f(uint32(s[0]), uint32(s[1]), uint32(s[2])) }
	case func(uint32, uint32, uint32, uint32):
		return func(_ context.Context, _ api.Module, s []uint64) {
			f(uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3]))
		}
	case func() uint32:
		return func(_ context.Context, _ api.Module, s []uint64) { s[0] = uint64(f()) }
	case func(uint32) uint32:
		return func(_ context.Context, _ api.Module, s []uint64) { s[0] = uint64(f(uint32(s[0]))) }
	case func(uint32, uint32) uint32:
		return func(_ context.Context, _ api.Module, s []uint64) { s[0] = uint64(f(uint32(s[0]), uint32(s[1]))) }
	case func(uint32, uint32, uint32) uint32:
		return func(_ context.Context, _ api.Module, s []uint64) {
			s[0] = uint64(f(uint32(s[0]), uint32(s[1]), uint32(s[2])))
		}
	case func(uint32, uint32, uint32, uint32) uint32:
		return func(_ context.Context, _ api.Module, s []uint64) {
			s[0] = uint64(f(uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])))
		}

	case func(context.Context):
		return func(ctx context.Context, _ api.Module, _ []uint64) { f(ctx) }
	case func(context.Context, uint32):
		return func(ctx context.Context, _ api.Module, s []uint64) { f(ctx, uint32(s[0])) }
	case func(context.Context, uint32, uint32):
		return func(ctx context.Context, _ api.Module, s []uint64) { f(ctx, uint32(s[0]), uint32(s[1])) }
	case func(context.Context, uint32, uint32, uint32):
		return func(ctx context.Context, _ api.Module, s []uint64) {
			f(ctx, uint32(s[0]), uint32(s[1]), uint32(s[2]))
		}
	case func(context.Context, uint32, uint32, uint32, uint32):
		return func(ctx context.Context, _ api.Module, s []uint64) {
			f(ctx, uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3]))
		}
	case func(context.Context) uint32:
		return func(ctx context.Context, _ api.Module, s []uint64) { s[0] = uint64(f(ctx)) }
	case func(context.Context, uint32) uint32:
		return func(ctx context.Context, _ api.Module, s []uint64) { s[0] = uint64(f(ctx, uint32(s[0]))) }
	case func(context.Context, uint32, uint32) uint32:
		return func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = uint64(f(ctx, uint32(s[0]), uint32(s[1])))
		}
	case func(context.Context, uint32, uint32, uint32) uint32:
		return func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = uint64(f(ctx, uint32(s[0]), uint32(s[1]), uint32(s[2])))
		}
	case func(context.Context, uint32, uint32, uint32, uint32) uint32:
		return func(ctx context.Context, _ api.Module, s []uint64) {
			s[0] = uint64(f(ctx, uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])))
		}

	case func(context.Context, api.Module):
		return func(ctx context.Context, m api.Module, _ []uint64) { f(ctx, m) }
	case func(context.Context, api.Module, uint32):
		return func(ctx context.Context, m api.Module, s []uint64) { f(ctx, m, uint32(s[0])) }
	case func(context.Context, api.Module, uint32, uint32):
		return func(ctx context.Context, m api.Module, s []uint64) { f(ctx, m, uint32(s[0]), uint32(s[1])) }
	case func(context.Context, api.Module, uint32, uint32, uint32):
		return func(ctx context.Context, m api.Module, s []uint64) {
			f(ctx, m, uint32(s[0]), uint32(s[1]), uint32(s[2]))
		}
	case func(context.Context, api.Module, uint32, uint32, uint32, uint32):
		return func(ctx context.Context, m api.Module, s []uint64) {
			f(ctx, m, uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3]))
		}
	case func(context.Context, api.Module) uint32:
		return func(ctx context.Context, m api.Module, s []uint64) { s[0] = uint64(f(ctx, m)) }
	case func(context.Context, api.Module, uint32) uint32:
		return func(ctx context.Context, m api.Module, s []uint64) { s[0] = uint64(f(ctx, m, uint32(s[0]))) }
	case func(context.Context, api.Module, uint32, uint32) uint32:
		return func(ctx context.Context, m api.Module, s []uint64) {
			s[0] = uint64(f(ctx, m, uint32(s[0]), uint32(s[1])))
		}
	case func(context.Context, api.Module, uint32, uint32, uint32) uint32:
		return func(ctx context.Context, m api.Module, s []uint64) {
			s[0] = uint64(f(ctx, m, uint32(s[0]), uint32(s[1]), uint32(s[2])))
		}
	case func(context.Context, api.Module, uint32, uint32, uint32, uint32) uint32:
		return func(ctx context.Context, m api.Module, s []uint64) {
			s[0] = uint64(f(ctx, m, uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])))
		}
	}
	return nil
}

// A reflectFunc calls a function for WithFunc of any other shape through
// reflect.Value.Call, as wazero does, but moves the bits of floats
// unchanged: wazero goes through float64 for a float32, which sets the
// quiet bit of a signaling NaN.
type reflectFunc struct {
	fn              reflect.Value
	withCtx         bool
	withMod         bool
	params, results []reflect.Type // the wasm values'
}

func newReflectFunc(v reflect.Value, withCtx, withMod bool) *reflectFunc {
	f := &reflectFunc{fn: v, withCtx: withCtx, withMod: withMod}
	t := v.Type()
	for i := f.first(); i < t.NumIn(); i++ {
		f.params = append(f.params, t.In(i))
	}
	for i := range t.NumOut() {
		f.results = append(f.results, t.Out(i))
	}
	return f
}

// first is the index of the first wasm parameter.
func (f *reflectFunc) first() int {
	n := 0
	if f.withCtx {
		n++
	}
	if f.withMod {
		n++
	}
	return n
}

func (f *reflectFunc) Call(ctx context.Context, mod api.Module, stack []uint64) {
	first := f.first()
	in := make([]reflect.Value, first+len(f.params))
	if f.withCtx {
		in[0] = reflect.ValueOf(&ctx).Elem()
	}
	if f.withMod {
		in[1] = reflect.ValueOf(&mod).Elem()
	}
	for i, t := range f.params {
		p := reflect.New(t)
		// Every kind wazero takes is its value's bits: the low 32 of
		// the stack value for a 4-byte kind (as wazero's SetInt and
		// SetUint truncate), all 64 for an 8-byte one.
		if t.Size() == 4 {
			*(*uint32)(p.UnsafePointer()) = uint32(stack[i])
		} else {
			*(*uint64)(p.UnsafePointer()) = stack[i]
		}
		in[first+i] = p.Elem()
	}
	for i, r := range f.fn.Call(in) {
		switch r.Kind() {
		case reflect.Int32, reflect.Int64:
			stack[i] = uint64(r.Int()) // sign-extended, as wazero does
		case reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			stack[i] = r.Uint()
		case reflect.Float32:
			// r.Float() would go through float64: copy the bits.
			p := reflect.New(f.results[i])
			p.Elem().Set(r)
			stack[i] = uint64(*(*uint32)(p.UnsafePointer()))
		case reflect.Float64:
			stack[i] = math.Float64bits(r.Float())
		}
	}
}
