package runtime

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// BenchmarkPreview1Guard times 1,000 calls of clock_time_get from a wasm
// guest, through wazero's wasi_snapshot_preview1 as it is ("wazero") and
// as the runtime guards it ("guarded"), in the order A B B A in one
// process:
//
//	go test ./runtime -run '^$' -bench Preview1Guard -benchtime 3000x
func BenchmarkPreview1Guard(b *testing.B) {
	const i32, i64 = api.ValueTypeI32, api.ValueTypeI64
	var m wasmbin.Module
	m.ImportFunc(wasi_snapshot_preview1.ModuleName, "clock_time_get", m.Type([]byte{i32, i64, i32}, []byte{i32}))
	m.Memory(1, 1)
	// loop(n): do { clock_time_get(1, 0, 0); drop } while (--n != 0)
	body := []byte{0x03, 0x40}
	body = append(body, wasmbin.I32Const(1)...)
	body = append(body, 0x42, 0x00)
	body = append(body, wasmbin.I32Const(0)...)
	body = append(body, 0x10, 0x00, 0x1a, 0x20, 0x00)
	body = append(body, wasmbin.I32Const(1)...)
	body = append(body, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b)
	m.Export("loop", wasmbin.ExportFunc, m.Func(m.Type([]byte{i32}, nil), nil, body))
	m.Export("memory", wasmbin.ExportMemory, 0)
	guest := m.Bytes()

	type variant struct {
		name string
		reg  func(context.Context, wazero.Runtime) error
	}
	plain := variant{"wazero", func(ctx context.Context, r wazero.Runtime) error {
		_, err := wasi_snapshot_preview1.Instantiate(ctx, r)
		return err
	}}
	guarded := variant{"guarded", instantiatePreview1}
	for _, c := range []variant{plain, guarded, guarded, plain} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
			defer r.Close(ctx)
			if err := c.reg(ctx, r); err != nil {
				b.Fatal(err)
			}
			mod, err := r.InstantiateWithConfig(ctx, guest, wazero.NewModuleConfig().WithSysNanotime())
			if err != nil {
				b.Fatal(err)
			}
			benchLoop(b, ctx, mod)
		})
	}
}

// BenchmarkPreview1GuestAware times what guestAware adds to fd_write, the
// one wrapped for both the disk quota and the call's waits, around a Go
// function that does nothing ("plain": the function alone; "guest": wrapped,
// called with the guest's context, as by Instance.Call; "call": wrapped,
// with a call's own context), in the order A B C C B A in one process:
//
//	go test ./runtime -run '^$' -bench Preview1GuestAware -count 3
func BenchmarkPreview1GuestAware(b *testing.B) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
	defer r.Close(ctx)
	rt, err := New(ctx, r, Config{})
	if err != nil {
		b.Fatal(err)
	}
	g, gctx, err := rt.newGuest(ctx, ModuleConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer g.close(ctx)
	g.state.waits.guest = gctx                  // as Instantiate's module configuration sets it
	callCtx, cancel := context.WithCancel(gctx) // a call's own context
	defer cancel()
	plain := api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) { stack[0] = 0 })
	aware := &guestAware{fn: plain, quota: quotaFunctions["fd_write"], waits: waitFunctions["fd_write"]}
	stack := make([]uint64, 4)
	for _, c := range []struct {
		name string
		fn   api.GoModuleFunction
		ctx  context.Context
	}{{"plain", plain, callCtx}, {"guest", aware, gctx}, {"call", aware, callCtx},
		{"call", aware, callCtx}, {"guest", aware, gctx}, {"plain", plain, callCtx}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.fn.Call(c.ctx, nil, stack)
			}
		})
	}
}

// BenchmarkExtensionGuard times 1,000 calls from a wasm guest of an
// extension's host function that does nothing, registered on wazero's
// runtime as it is ("wazero") and as New hands it to an extension
// ("guarded", guardedRuntime), in the order A B B A in one process, for
// each way to give it: by WithGoModuleFunction ("module"), by WithFunc a
// function of a shape the guard calls directly (shapeFunc), without
// parameters ("func") and taking a context, a module and two uint32 to
// return one ("func_ctx_mod_u32x2_u32"), and by WithFunc one of another
// shape, called through reflect ("func_ctx_mod_i32x2_i32"):
//
//	go test ./runtime -run '^$' -bench ExtensionGuard -benchtime 3000x
func BenchmarkExtensionGuard(b *testing.B) {
	type kind struct {
		name            string
		params, results []api.ValueType
		give            func(wazero.HostFunctionBuilder) wazero.HostFunctionBuilder
	}
	i32 := []api.ValueType{api.ValueTypeI32}
	i32x2 := []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}
	kinds := []kind{
		{"module", nil, nil, func(fb wazero.HostFunctionBuilder) wazero.HostFunctionBuilder {
			return fb.WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {}), nil, nil)
		}},
		{"func", nil, nil, func(fb wazero.HostFunctionBuilder) wazero.HostFunctionBuilder {
			return fb.WithFunc(func() {})
		}},
		{"func_ctx_mod_u32x2_u32", i32x2, i32, func(fb wazero.HostFunctionBuilder) wazero.HostFunctionBuilder {
			return fb.WithFunc(func(_ context.Context, _ api.Module, x, y uint32) uint32 { return x + y })
		}},
		{"func_ctx_mod_i32x2_i32", i32x2, i32, func(fb wazero.HostFunctionBuilder) wazero.HostFunctionBuilder {
			return fb.WithFunc(func(_ context.Context, _ api.Module, x, y int32) int32 { return x + y })
		}},
	}
	for _, k := range kinds {
		guest := nopLoopGuest(k.params, k.results)
		for _, guarded := range []bool{false, true, true, false} {
			name := k.name + "/wazero"
			if guarded {
				name = k.name + "/guarded"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
				defer r.Close(ctx)
				var reg wazero.Runtime = r
				if guarded {
					reg = guardedRuntime{r}
				}
				if _, err := k.give(reg.NewHostModuleBuilder("env").NewFunctionBuilder()).Export("nop").Instantiate(ctx); err != nil {
					b.Fatal(err)
				}
				mod, err := r.Instantiate(ctx, guest)
				if err != nil {
					b.Fatal(err)
				}
				benchLoop(b, ctx, mod)
			})
		}
	}
}

// nopLoopGuest is a module importing env.nop of the given i32 parameters
// and results and exporting loop(n), which calls it n times with zeros:
// do { nop(0...); drop... } while (--n != 0).
func nopLoopGuest(params, results []api.ValueType) []byte {
	var m wasmbin.Module
	m.ImportFunc("env", "nop", m.Type(params, results))
	body := []byte{0x03, 0x40}
	for range params {
		body = append(body, wasmbin.I32Const(0)...)
	}
	body = append(body, 0x10, 0x00)
	for range results {
		body = append(body, 0x1a)
	}
	body = append(body, 0x20, 0x00)
	body = append(body, wasmbin.I32Const(1)...)
	body = append(body, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b)
	m.Export("loop", wasmbin.ExportFunc, m.Func(m.Type([]byte{wasmbin.I32}, nil), nil, body))
	return m.Bytes()
}

// benchLoop times mod's export loop called with 1000, the count of the
// host calls it makes: what one iteration of the benchmark costs.
func benchLoop(b *testing.B, ctx context.Context, mod api.Module) {
	b.Helper()
	loop := mod.ExportedFunction("loop")
	b.ResetTimer()
	for b.Loop() {
		if _, err := loop.Call(ctx, 1000); err != nil {
			b.Fatal(err)
		}
	}
}
