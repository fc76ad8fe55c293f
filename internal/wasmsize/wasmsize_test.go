package wasmsize_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/internal/wasmsize"
)

const huge = 1<<32 - 1

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// module is a core module of the sections (id, body).
func module(sections ...[]byte) []byte { return wasmbin.Cat(header, wasmbin.Cat(sections...)) }

// withCode is a module of one function of type [] -> [] with body.
func withCode(body []byte) []byte {
	return module(
		wasmbin.Section(1, []byte{0x01, 0x60, 0x00, 0x00}),
		wasmbin.Section(3, []byte{0x01, 0x00}),
		wasmbin.Section(10, wasmbin.Vec([][]byte{wasmbin.Cat(wasmbin.ULEB(uint64(len(body))), body)})))
}

// Hostile are modules of a few bytes declaring counts or lengths that
// wazero 1.12's decoder allocates for before reading: the first made
// CompileModule die with "fatal error: runtime: out of memory".
var Hostile = map[string][]byte{
	"results":        module(wasmbin.Section(1, wasmbin.Cat([]byte{0x01, 0x60, 0x00}, wasmbin.ULEB(huge), []byte{0x00}))),
	"params":         module(wasmbin.Section(1, wasmbin.Cat([]byte{0x01, 0x60}, wasmbin.ULEB(huge), []byte{0x7f}))),
	"rec group":      module(wasmbin.Section(1, wasmbin.Cat([]byte{0x01, 0x4e}, wasmbin.ULEB(huge), []byte{0x60, 0x00, 0x00}))),
	"types":          module(wasmbin.Section(1, wasmbin.Cat(wasmbin.ULEB(huge), []byte{0x60, 0x00, 0x00}))),
	"import name":    module(wasmbin.Section(2, wasmbin.Cat([]byte{0x01}, wasmbin.ULEB(huge), []byte{'a'}))),
	"imports":        module(wasmbin.Section(2, wasmbin.Cat(wasmbin.ULEB(huge), wasmbin.Name("a")))),
	"exports":        module(wasmbin.Section(7, wasmbin.Cat(wasmbin.ULEB(huge), wasmbin.Name("a")))),
	"section size":   wasmbin.Cat(header, []byte{0x00}, wasmbin.ULEB(huge), wasmbin.Name("x")),
	"custom name":    module(wasmbin.Section(0, wasmbin.Cat(wasmbin.ULEB(huge), []byte{'x'}))),
	"element vector": module(wasmbin.Section(9, wasmbin.Cat([]byte{0x01, 0x00, 0x41, 0x00, 0x0b}, wasmbin.ULEB(huge), []byte{0x00}))),
	"element exprs":  module(wasmbin.Section(9, wasmbin.Cat([]byte{0x01, 0x05, 0x70}, wasmbin.ULEB(huge), []byte{0xd2, 0x00, 0x0b}))),
	"data segment":   module(wasmbin.Section(11, wasmbin.Cat([]byte{0x01, 0x01}, wasmbin.ULEB(huge), []byte{0x00}))),
	"locals":         withCode(wasmbin.Cat([]byte{0x01}, wasmbin.ULEB(huge), []byte{0x7f, 0x0b})),
	"locals 50,001":  withCode(wasmbin.Cat([]byte{0x02}, wasmbin.ULEB(50_000), []byte{0x7f, 0x01, 0x7e, 0x0b})),
	"function names": module(wasmbin.Section(0, wasmbin.Cat(wasmbin.Name("name"), []byte{0x01, 0x05}, wasmbin.ULEB(huge)))),
	"local names": module(wasmbin.Section(0, wasmbin.Cat(wasmbin.Name("name"), []byte{0x02, 0x07, 0x01, 0x00},
		wasmbin.ULEB(huge)))),
	"module locals": module(
		wasmbin.Section(1, []byte{0x01, 0x60, 0x00, 0x00}),
		wasmbin.Section(3, wasmbin.Cat(wasmbin.ULEB(200), make([]byte, 200))),
		wasmbin.Section(10, wasmbin.Cat(wasmbin.ULEB(200), func() []byte {
			var b []byte
			for range 200 {
				f := wasmbin.Cat([]byte{0x01}, wasmbin.ULEB(50_000), []byte{0x7f, 0x0b})
				b = append(b, wasmbin.Cat(wasmbin.ULEB(uint64(len(f))), f)...)
			}
			return b
		}()))),
}

// TestCheck: Check refuses every hostile module with an *Error, and
// passes valid modules wazero compiles, locals up to MaxLocals included.
func TestCheck(t *testing.T) {
	for name, wasm := range Hostile {
		t.Run(name, func(t *testing.T) {
			var e *wasmsize.Error
			if err := wasmsize.Check(wasm); !errors.As(err, &e) {
				t.Fatalf("Check = %v, want a *wasmsize.Error", err)
			} else if strings.Contains(err.Error(), "unexpected end") {
				t.Fatalf("Check = %v, want the count or length refused", err)
			}
		})
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	var m wasmbin.Module
	m.Memory(1, -1)
	typ := m.Type([]byte{wasmbin.I32, wasmbin.I64}, []byte{wasmbin.I32, wasmbin.I32})
	m.ImportFunc("env", "f", typ)
	m.Global(wasmbin.I64, true, []byte{0x42, 0x80, 0x80, 0x04})
	f := m.Func(typ, []byte{0x01, 0x80, 0x86, 0x03, wasmbin.I32}, []byte{0x20, 0x00, 0x20, 0x00}) // 50,000 locals
	m.Export("f", wasmbin.ExportFunc, f)
	names := wasmbin.Section(0, wasmbin.Cat(wasmbin.Name("name"),
		wasmbin.Section(0, wasmbin.Name("m")),
		wasmbin.Section(1, wasmbin.Vec([][]byte{wasmbin.Cat([]byte{0x01}, wasmbin.Name("f"))})),
		wasmbin.Section(2, wasmbin.Vec([][]byte{wasmbin.Cat([]byte{0x01}, wasmbin.Vec([][]byte{wasmbin.Cat([]byte{0x00}, wasmbin.Name("p"))}))}))))
	data := wasmbin.Section(11, wasmbin.Vec([][]byte{wasmbin.Cat([]byte{0x00, 0x41, 0x00, 0x0b}, wasmbin.Name("hello")), wasmbin.Cat([]byte{0x01}, wasmbin.Name("x"))}))
	for name, wasm := range map[string][]byte{
		"module": m.Bytes(), "names": wasmbin.Cat(m.Bytes(), names), "data": wasmbin.Cat(m.Bytes(), data),
		"component": {0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00, 0xff},
	} {
		t.Run("valid "+name, func(t *testing.T) {
			if err := wasmsize.Check(wasm); err != nil {
				t.Fatal(err)
			}
			if name == "component" {
				return
			}
			c, err := r.CompileModule(ctx, wasm)
			if err != nil && !strings.Contains(err.Error(), "import") {
				t.Fatalf("wazero refuses the valid module: %v", err)
			}
			if c != nil {
				c.Close(ctx)
			}
		})
	}
}

// TestCheckTruncated: every prefix of a module is either whole sections,
// which Check passes, or ends inside one, which it refuses as truncated,
// saying where the module ends and where that section starts.
func TestCheckTruncated(t *testing.T) {
	var m wasmbin.Module
	m.Memory(1, -1)
	f := m.Func(m.Type(nil, nil), nil, []byte{0x01})
	m.Export("f", wasmbin.ExportFunc, f)
	wasm := m.Bytes()
	var starts []int // of each section
	for pos := 8; pos < len(wasm); {
		starts = append(starts, pos)
		r := wasmbin.Reader{B: wasm, Pos: pos + 1, NewError: func(int, string) error { return errors.New("bad") }}
		r.Sized("section")
		pos = r.Pos
	}
	if len(starts) < 4 {
		t.Fatalf("the module has %d sections; want several", len(starts))
	}
	for cut := 9; cut < len(wasm); cut++ {
		err := wasmsize.Check(wasm[:cut])
		if slices.Contains(starts, cut) {
			if err != nil {
				t.Errorf("cut at byte %d, a section boundary: %v", cut, err)
			}
			continue
		}
		section := starts[0]
		for _, s := range starts {
			if s < cut {
				section = s
			}
		}
		var e *wasmsize.Error
		if !errors.As(err, &e) || !e.Truncated || e.Size != cut || e.Section != section ||
			!strings.Contains(err.Error(), fmt.Sprintf("truncated: the module ends at byte %d, inside the section at byte %d", cut, section)) {
			t.Errorf("cut at byte %d, inside the section at byte %d: %v", cut, section, err)
		}
	}
	// A section of an unknown kind running past the end is not taken for
	// a truncated module.
	var e *wasmsize.Error
	if err := wasmsize.Check(wasmbin.Cat(header, []byte{0x72, 0x65, 0x73})); !errors.As(err, &e) || e.Truncated {
		t.Errorf("unknown section past the end: %v; want an *Error, not truncated", err)
	}
}
