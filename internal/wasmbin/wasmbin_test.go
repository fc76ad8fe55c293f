package wasmbin_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

func TestLEB(t *testing.T) {
	for _, tc := range []struct {
		got, want []byte
	}{
		{wasmbin.ULEB(0), []byte{0}},
		{wasmbin.ULEB(624485), []byte{0xe5, 0x8e, 0x26}},
		{wasmbin.I32Const(-1), []byte{0x41, 0x7f}},
		{wasmbin.I32Const(63), []byte{0x41, 0x3f}},
		{wasmbin.I32Const(64), []byte{0x41, 0xc0, 0x00}},
		{wasmbin.I32Const(-123456), []byte{0x41, 0xc0, 0xbb, 0x78}},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("got % x, want % x", tc.got, tc.want)
		}
	}
}

// TestModule runs an assembled module in wazero: an export that adds a
// global to the result of an imported function and stores it in memory.
func TestModule(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	_, err := r.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithFunc(func(v uint32) uint32 { return v * 2 }).Export("double").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m wasmbin.Module
	tDouble := m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32})
	if m.Type([]byte{wasmbin.I32}, []byte{wasmbin.I32}) != tDouble {
		t.Fatal("Type added a type twice")
	}
	double := m.ImportFunc("env", "double", tDouble)
	m.Memory(1, 1)
	g := m.Global(wasmbin.I32, true, wasmbin.I32Const(1000))
	// run(x): mem[16] = double(x) + g; return mem[16]
	body := wasmbin.Cat(wasmbin.I32Const(16), []byte{0x20, 0, 0x10, byte(double), 0x23, byte(g), 0x6a, 0x36, 2, 0},
		wasmbin.I32Const(16), []byte{0x28, 2, 0})
	m.Export("run", wasmbin.ExportFunc, m.Func(tDouble, nil, body))
	m.Export("memory", wasmbin.ExportMemory, 0)
	mod, err := r.Instantiate(ctx, m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	res, err := mod.ExportedFunction("run").Call(ctx, api.EncodeU32(21))
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != 1042 {
		t.Fatalf("run(21) = %d, want 1042", res[0])
	}
	if v, _ := mod.Memory().ReadUint32Le(16); v != 1042 {
		t.Fatalf("memory holds %d, want 1042", v)
	}
}
