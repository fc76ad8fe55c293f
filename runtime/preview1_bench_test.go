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
			loop := mod.ExportedFunction("loop")
			b.ResetTimer()
			for b.Loop() {
				if _, err := loop.Call(ctx, 1000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
