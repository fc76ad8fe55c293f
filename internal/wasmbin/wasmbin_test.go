package wasmbin_test

import (
	"bytes"
	"context"
	"fmt"
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

// TestReader: the Reader reads back what the assembler writes, refuses
// LEB128 numbers too long or out of their range and lengths past the end,
// and reports the first failure at its offset in the module.
func TestReader(t *testing.T) {
	type failure struct {
		off int
		msg string
	}
	newReader := func(b []byte) *wasmbin.Reader {
		return &wasmbin.Reader{B: b, Base: 100, NewError: func(off int, msg string) error {
			return fmt.Errorf("%d: %s", off, msg)
		}}
	}
	r := newReader(wasmbin.Cat(wasmbin.ULEB(624485), wasmbin.I32Const(-1)[1:], wasmbin.I32Const(1<<31 - 1)[1:],
		wasmbin.Name("héllo"), wasmbin.Section(7, []byte{1, 2, 3}), []byte{0x01, 0x05, 0x06}))
	if v := r.U32(); v != 624485 {
		t.Errorf("U32 = %d, want 624485", v)
	}
	if v := int64(r.LEB(32, true)); v != -1 {
		t.Errorf("LEB(32, signed) = %d, want -1", v)
	}
	if v := int64(r.LEB(32, true)); v != 1<<31-1 {
		t.Errorf("LEB(32, signed) = %d, want %d", v, 1<<31-1)
	}
	if s := r.Name(); s != "héllo" {
		t.Errorf("Name = %q", s)
	}
	if id, body, off := r.Byte(), []byte(nil), 0; id != 7 {
		t.Errorf("section id %d, want 7", id)
	} else if body, off = r.Sized("section"); !bytes.Equal(body, []byte{1, 2, 3}) || off != 100+r.Pos-3 {
		t.Errorf("Sized = %v at %d", body, off)
	}
	r.Limits()
	r.End("test")
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, tc := range []struct {
		in   []byte
		read func(r *wasmbin.Reader)
		want failure
	}{
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, func(r *wasmbin.Reader) { r.U32() }, failure{105, "LEB128 number too long"}},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x10}, func(r *wasmbin.Reader) { r.U32() }, failure{105, "LEB128 number out of range"}},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x4f}, func(r *wasmbin.Reader) { r.LEB(32, true) }, failure{105, "LEB128 number out of range"}},
		{[]byte{0x05, 'a'}, func(r *wasmbin.Reader) { r.Name() }, failure{101, "a name of 5 bytes where 1 are left"}},
		{[]byte{0x04, 0x00}, func(r *wasmbin.Reader) { r.Limits() }, failure{101, "unknown limits flags 0x04"}},
		{[]byte{0x00, 0x00}, func(r *wasmbin.Reader) { r.Byte(); r.End("vector") }, failure{101, "1 bytes left at the end of the vector"}},
		{nil, func(r *wasmbin.Reader) { r.Byte(); r.Fail("second") }, failure{100, "unexpected end"}},
	} {
		r := newReader(tc.in)
		tc.read(r)
		if want := fmt.Sprintf("%d: %s", tc.want.off, tc.want.msg); r.Err == nil || r.Err.Error() != want {
			t.Errorf("reading % x: %v, want %s", tc.in, r.Err, want)
		} else if r.Byte() != 0 || r.U32() != 0 || r.Err.Error() != want {
			t.Errorf("reading % x: reads after the failure return values or change it: %v", tc.in, r.Err)
		}
	}
}
