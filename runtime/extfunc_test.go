package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// Named kinds, which wazero takes by their kind.
type (
	extHandle uint32
	extScale  float32
)

var (
	tU32, tI32, tU64, tI64 = reflect.TypeFor[uint32](), reflect.TypeFor[int32](), reflect.TypeFor[uint64](), reflect.TypeFor[int64]()
	tF32, tF64, tPtr       = reflect.TypeFor[float32](), reflect.TypeFor[float64](), reflect.TypeFor[uintptr]()
	tHandle, tScale        = reflect.TypeFor[extHandle](), reflect.TypeFor[extScale]()
	allKinds               = []reflect.Type{tU32, tI32, tU64, tI64, tF32, tF64, tPtr, tHandle, tScale}
)

// extShape is the type of a function for WithFunc: its context and module
// parameters, the wasm parameters, the results.
type extShape struct {
	ctx, mod bool
	params   []reflect.Type
	results  []reflect.Type
}

func (s extShape) funcType() reflect.Type {
	var in []reflect.Type
	if s.ctx {
		in = append(in, contextType)
	}
	if s.mod {
		in = append(in, moduleType)
	}
	return reflect.FuncOf(append(in, s.params...), s.results, false)
}

func (s extShape) String() string { return s.funcType().String() }

// fastShapes are the shapes shapeFunc calls without reflect.
func fastShapes() []extShape {
	var out []extShape
	for _, pre := range [][2]bool{{false, false}, {true, false}, {true, true}} {
		for n := range 5 {
			for _, results := range [][]reflect.Type{nil, {tU32}} {
				out = append(out, extShape{pre[0], pre[1], slices.Repeat([]reflect.Type{tU32}, n), results})
			}
		}
	}
	return out
}

// otherShapes are shapes called through reflect: each kind alone, with
// and without a context and module, and all together.
func otherShapes() []extShape {
	var out []extShape
	for _, k := range allKinds {
		if k == tU32 {
			continue
		}
		out = append(out,
			extShape{false, false, []reflect.Type{k}, []reflect.Type{k}},
			extShape{true, true, []reflect.Type{k, k}, []reflect.Type{k}},
			extShape{true, false, nil, []reflect.Type{k}})
	}
	out = append(out,
		extShape{true, true, allKinds, allKinds},
		extShape{false, false, allKinds, nil},
		extShape{true, false, []reflect.Type{tU32, tU32}, []reflect.Type{tU32, tU32}},
		extShape{false, false, nil, allKinds})
	return out
}

// echo is a function of shape s that returns, as result i, its wasm
// parameter i when there is one (of the same type), else extConst of the
// result's type.
func echo(s extShape) any {
	first := 0
	if s.ctx {
		first++
	}
	if s.mod {
		first++
	}
	return reflect.MakeFunc(s.funcType(), func(args []reflect.Value) []reflect.Value {
		if s.ctx && args[0].IsNil() {
			panic("no context")
		}
		if s.mod && args[1].IsNil() {
			panic("no module")
		}
		out := make([]reflect.Value, len(s.results))
		for i, t := range s.results {
			if i < len(s.params) {
				out[i] = args[first+i]
			} else {
				out[i] = fromBits(t, extConst(t))
			}
		}
		return out
	}).Interface()
}

// extConst is the bits of the constant echo returns for a result of type
// t without a parameter: an extreme of each kind, a NaN with a payload.
func extConst(t reflect.Type) uint64 {
	switch t.Kind() {
	case reflect.Uint32:
		return math.MaxUint32
	case reflect.Int32:
		return 0xffff_fff9 // -7
	case reflect.Uint64, reflect.Uintptr:
		return math.MaxUint64
	case reflect.Int64:
		return 1 << 63 // math.MinInt64
	case reflect.Float32:
		return 0xffc0_1234 // a negative quiet NaN with a payload
	default:
		return 0x7ff0_0000_dead_beef // a signaling NaN with a payload
	}
}

// fromBits is the value of type t of the given bits (the low 32 for a
// 4-byte type).
func fromBits(t reflect.Type, bits uint64) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Float32: // SetFloat would go through float64
		*(*uint32)(v.Addr().UnsafePointer()) = uint32(bits)
	case reflect.Float64:
		v.SetFloat(math.Float64frombits(bits))
	case reflect.Int32, reflect.Int64:
		v.SetInt(int64(bits))
	default:
		v.SetUint(bits)
	}
	return v
}

// stackValue is what wazero puts on the stack for a result of type t
// whose value has the given bits: a signed i32 sign-extended, an
// unsigned i32 or an f32 zero-extended.
func stackValue(t reflect.Type, bits uint64) uint64 {
	switch t.Kind() {
	case reflect.Int32:
		return uint64(int64(int32(bits)))
	case reflect.Uint32, reflect.Float32:
		return uint64(uint32(bits))
	}
	return bits
}

// extInputs are the stack values tried for a parameter of each kind:
// zeros, extremes, negative numbers, NaNs quiet and signaling, with
// their payloads and signs, and i32s with garbage in the high bits.
func extInputs(t reflect.Type) []uint64 {
	switch t.Kind() {
	case reflect.Uint32, reflect.Int32:
		return []uint64{0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xdead_beef_ffff_fffe}
	case reflect.Float32:
		return []uint64{0, 0x8000_0000, 0x7f80_0000, 0x7fc1_2345, 0xffc0_0001, 0x7f80_0001, 0x0000_0001}
	case reflect.Float64:
		return []uint64{0, 1 << 63, 0x7ff8_0000_0000_0001, 0xfff8_dead_0000_0000, 0x7ff0_0000_0000_0001, math.Float64bits(math.MaxFloat64)}
	default:
		return []uint64{0, 1, math.MaxUint64, 1 << 63, 1<<63 - 1, uint64(1<<64 - 2)} // ..., -2
	}
}

// signalingF32 tells whether bits are a float32 signaling NaN.
func signalingF32(bits uint64) bool {
	b := uint32(bits)
	return b&0x7f80_0000 == 0x7f80_0000 && b&0x007f_ffff != 0 && b&0x0040_0000 == 0
}

// TestExtensionFuncRoundTrip: a function given to WithFunc through the
// guarded builder, of every shape shapeFunc calls directly and of many
// it calls through reflect, gets its parameters and gives its results
// exactly (negative integers sign-extended as wazero does, uint64
// extremes, NaNs with their payloads and signs), exactly as the same
// function given to wazero's own builder does; its definition (value
// types, names) is wazero's; and the shapes listed as fast are called
// without reflect. Unlike wazero, the guard keeps a float32 signaling
// NaN signaling (wazero goes through float64, which sets the quiet bit).
func TestExtensionFuncRoundTrip(t *testing.T) {
	ctx := context.Background()
	plainRT := wazero.NewRuntime(ctx)
	t.Cleanup(func() { plainRT.Close(ctx) })
	guardedRT := guardedRuntime{wazero.NewRuntime(ctx)}
	t.Cleanup(func() { guardedRT.Close(ctx) })
	fast := fastShapes()
	for i, s := range append(fast, otherShapes()...) {
		t.Run(s.String(), func(t *testing.T) {
			fn := echo(s)
			if isFast := shapeFunc(fn) != nil; isFast != (i < len(fast)) {
				t.Fatalf("called without reflect: %v, want %v", isFast, i < len(fast))
			}
			name := fmt.Sprintf("m%d", i)
			// The host function, called from Go through a guest that
			// exports its import (wazero calls no host module's export
			// from Go), and its definition.
			export := func(r wazero.Runtime) (api.Function, api.FunctionDefinition) {
				fb := r.NewHostModuleBuilder(name).NewFunctionBuilder().WithFunc(fn).WithName("echo")
				if len(s.params) > 0 {
					fb = fb.WithParameterNames(names("p", len(s.params))...)
				}
				if len(s.results) > 0 {
					fb = fb.WithResultNames(names("r", len(s.results))...)
				}
				host := fb.Export("f")
				compiled, err := host.Compile(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := host.Instantiate(ctx); err != nil {
					t.Fatal(err)
				}
				var m wasmbin.Module
				m.Export("f", wasmbin.ExportFunc, m.ImportFunc(name, "f", m.Type(wasmTypes(s.params), wasmTypes(s.results))))
				guest, err := r.Instantiate(ctx, m.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				return guest.ExportedFunction("f"), compiled.ExportedFunctions()["f"]
			}
			plain, plainDef := export(plainRT)
			guarded, guardedDef := export(guardedRT)
			checkSameDefinition(t, plainDef, guardedDef)
			if _, ok := guardedDef.GoFunction().(*guardedGoModuleFunction); !ok {
				t.Fatalf("the guarded builder registered %T", guardedDef.GoFunction())
			}
			for j := range 7 {
				in := make([]uint64, len(s.params))
				sNaN := false
				for k, pt := range s.params {
					vals := extInputs(pt)
					in[k] = vals[(j+k)%len(vals)]
					sNaN = sNaN || (pt.Kind() == reflect.Float32 && signalingF32(in[k]))
				}
				want := make([]uint64, len(s.results))
				for k, rt := range s.results {
					if k < len(s.params) {
						want[k] = stackValue(rt, in[k])
					} else {
						want[k] = stackValue(rt, extConst(rt))
					}
				}
				got, err := guarded.Call(ctx, in...)
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("guarded(%#x) = %#x, %v; want %#x", in, got, err, want)
				}
				if sNaN {
					continue
				}
				if got2, err := plain.Call(ctx, in...); err != nil || !slices.Equal(got2, got) {
					t.Errorf("wazero(%#x) = %#x, %v; guarded %#x", in, got2, err, got)
				}
			}
		})
	}
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(prefix, i)
	}
	return out
}

func checkSameDefinition(t *testing.T, want, got api.FunctionDefinition) {
	t.Helper()
	if got.Name() != want.Name() || !slices.Equal(got.ExportNames(), want.ExportNames()) ||
		!slices.Equal(got.ParamTypes(), want.ParamTypes()) || !slices.Equal(got.ResultTypes(), want.ResultTypes()) ||
		!slices.Equal(got.ParamNames(), want.ParamNames()) || !slices.Equal(got.ResultNames(), want.ResultNames()) {
		t.Fatalf("definition %s %v %v(%v) %v(%v), want wazero's %s %v %v(%v) %v(%v)",
			got.Name(), got.ExportNames(), got.ParamTypes(), got.ParamNames(), got.ResultTypes(), got.ResultNames(),
			want.Name(), want.ExportNames(), want.ParamTypes(), want.ParamNames(), want.ResultTypes(), want.ResultNames())
	}
}

// TestExtensionFuncRefused: a function WithFunc refuses, or whose
// parameter or result names are not as many as its parameters or
// results, fails the module through the guarded builder with wazero's
// own error, the same as through wazero's builder.
func TestExtensionFuncRefused(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name                    string
		fn                      any
		paramNames, resultNames []string
	}{
		{"not a function", 42, nil, nil},
		{"module first", func(api.Module, uint32) {}, nil, nil},
		{"two contexts", func(context.Context, context.Context) {}, nil, nil},
		{"context later", func(uint32, context.Context) {}, nil, nil},
		{"module later", func(context.Context, uint32, api.Module) {}, nil, nil},
		{"two modules", func(context.Context, api.Module, api.Module) {}, nil, nil},
		{"int", func(int) {}, nil, nil},
		{"uint16", func(uint16) {}, nil, nil},
		{"bool result", func() bool { return false }, nil, nil},
		{"string", func(string) {}, nil, nil},
		{"error result", func(uint32) error { return nil }, nil, nil},
		{"value and error", func() (uint32, error) { return 0, nil }, nil, nil},
		{"variadic", func(...uint32) {}, nil, nil},
		{"any", func(any) {}, nil, nil},
		{"pointer", func(*uint32) {}, nil, nil},
		{"too many parameter names", func(context.Context, api.Module, uint32) uint32 { return 0 }, []string{"a", "b"}, nil},
		{"too few parameter names", func(int32, int64) {}, []string{"a"}, nil},
		{"too many result names", func() uint32 { return 0 }, nil, []string{"a", "b"}},
		{"result names without results", func(uint32) {}, []string{"a"}, []string{"r"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			instantiate := func(r wazero.Runtime) error {
				fb := r.NewHostModuleBuilder("env").NewFunctionBuilder().WithFunc(c.fn)
				if c.paramNames != nil {
					fb = fb.WithParameterNames(c.paramNames...)
				}
				if c.resultNames != nil {
					fb = fb.WithResultNames(c.resultNames...)
				}
				_, err := fb.Export("f").Instantiate(ctx)
				return err
			}
			plain := wazero.NewRuntime(ctx)
			defer plain.Close(ctx)
			guarded := wazero.NewRuntime(ctx)
			defer guarded.Close(ctx)
			want := instantiate(plain)
			if want == nil {
				t.Fatal("wazero takes it: not a refused case")
			}
			if err := instantiate(guardedRuntime{guarded}); err == nil || err.Error() != want.Error() {
				t.Errorf("guarded: %v, want wazero's %v", err, want)
			}
		})
	}
}

// TestExtensionFuncPanicTraps: a function given to WithFunc through the
// builder New hands an extension, of every fast shape and of shapes
// called through reflect, that panics traps the core guest calling it
// with "env.NAME: host panic: VALUE" and no host stack, marks the
// instance trapped, and the next call is refused.
func TestExtensionFuncPanicTraps(t *testing.T) {
	ctx := context.Background()
	shapes := append(fastShapes(), otherShapes()...)
	ext := ExtensionFunc(func(ctx context.Context, r wazero.Runtime) error {
		b := r.NewHostModuleBuilder("env")
		for i, s := range shapes {
			b = b.NewFunctionBuilder().WithFunc(reflect.MakeFunc(s.funcType(), func([]reflect.Value) []reflect.Value {
				panic(fmt.Sprintf("shape %d failed", i))
			}).Interface()).Export(fmt.Sprint("f", i))
		}
		_, err := b.Instantiate(ctx)
		return err
	})
	r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := New(ctx, r, Config{StopFlag: true, Extensions: []Extension{ext}})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := CompileModule(ctx, r, callerGuest(shapes))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range shapes {
		t.Run(s.String(), func(t *testing.T) {
			inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close(ctx)
			call := fmt.Sprint("call", i)
			_, err = inst.Call(call)
			want := fmt.Sprintf("env.f%d: host panic: shape %d failed", i, i)
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "goroutine ") || strings.Contains(err.Error(), ".go:") {
				t.Fatalf("%s = %v, want a trap saying %q and no host stack", call, err, want)
			}
			if !inst.Cabi().Trapped() {
				t.Error("the instance is not marked trapped")
			}
			if _, err := inst.Call(call); !errors.Is(err, cabi.ErrTrapped) {
				t.Errorf("%s after the trap = %v, want it refused with cabi.ErrTrapped", call, err)
			}
		})
	}
}

// callerGuest imports env.fI of each shape and exports callI, which calls
// it with zeros (a null reference for an externref) and drops its
// results.
func callerGuest(shapes []extShape) []byte {
	var m wasmbin.Module
	for i, s := range shapes {
		m.ImportFunc("env", fmt.Sprint("f", i), m.Type(wasmTypes(s.params), wasmTypes(s.results)))
	}
	for i, s := range shapes {
		var body []byte
		for _, p := range wasmTypes(s.params) {
			switch p {
			case wasmbin.I32:
				body = append(body, 0x41, 0x00)
			case wasmbin.I64:
				body = append(body, 0x42, 0x00)
			case wasmbin.F32:
				body = append(body, 0x43, 0, 0, 0, 0)
			case wasmbin.F64:
				body = append(body, 0x44, 0, 0, 0, 0, 0, 0, 0, 0)
			default: // externref
				body = append(body, 0xd0, 0x6f)
			}
		}
		body = append(body, 0x10)
		body = append(body, wasmbin.ULEB(uint64(i))...)
		for range s.results {
			body = append(body, 0x1a)
		}
		m.Export(fmt.Sprint("call", i), wasmbin.ExportFunc, m.Func(m.Type(nil, nil), nil, body))
	}
	return m.Bytes()
}

// wasmTypes are the wasm value types of the Go types, as WithFunc maps
// them (funcValueType; the test of that mapping is wazero's agreeing in
// TestExtensionFuncRoundTrip).
func wasmTypes(ts []reflect.Type) []byte {
	var out []byte
	for _, t := range ts {
		vt, ok := funcValueType(t.Kind())
		if !ok {
			panic("no wasm type for " + t.String())
		}
		out = append(out, vt)
	}
	return out
}
