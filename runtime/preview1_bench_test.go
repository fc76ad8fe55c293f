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
// ("guarded", guardedRuntime), given by WithGoModuleFunction ("module")
// and by WithFunc ("reflect"), in the order A B B A in one process:
//
//	go test ./runtime -run '^$' -bench ExtensionGuard -benchtime 3000x
func BenchmarkExtensionGuard(b *testing.B) {
	var m wasmbin.Module
	m.ImportFunc("env", "nop", m.Type(nil, nil))
	// loop(n): do { nop() } while (--n != 0)
	body := []byte{0x03, 0x40, 0x10, 0x00, 0x20, 0x00}
	body = append(body, wasmbin.I32Const(1)...)
	body = append(body, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b)
	m.Export("loop", wasmbin.ExportFunc, m.Func(m.Type([]byte{wasmbin.I32}, nil), nil, body))
	guest := m.Bytes()
	for _, kind := range []string{"module", "reflect"} {
		for _, guarded := range []bool{false, true, true, false} {
			name := kind + "/wazero"
			if guarded {
				name = kind + "/guarded"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
				defer r.Close(ctx)
				var reg wazero.Runtime = r
				if guarded {
					reg = guardedRuntime{r}
				}
				fb := reg.NewHostModuleBuilder("env").NewFunctionBuilder()
				if kind == "module" {
					fb = fb.WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {}), nil, nil)
				} else {
					fb = fb.WithFunc(func() {})
				}
				if _, err := fb.Export("nop").Instantiate(ctx); err != nil {
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
