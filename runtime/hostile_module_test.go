package runtime_test

import (
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// The hostile guest of FuzzHostCalls is a core module assembled here: it
// imports every host function the runtime serves and exports, for the k-th
// import, a function "fk" without parameters that loads the import's
// parameters from the argument area at address 0 (8 bytes each, as the
// import's type), calls it and drops its results. It also exports its
// memory (fuzzMemPages pages, not growable) and a cabi_realloc that bumps
// through [reallocStart, reallocEnd), starting over at the start when an
// allocation does not fit, and a cabi_offer_slot that places its offer slot
// (see package cabi) at patchAt, so that the fuzzed bytes are its fields.

const (
	fuzzMemPages = 4
	patchAt      = 0x400   // where the fuzzed memory bytes go
	reallocStart = 0x20000 // cabi_realloc's region
	reallocEnd   = 0x3f000
)

// importedFunc is one import of the hostile guest.
type importedFunc struct {
	module, name    string
	params, results []api.ValueType
}

func (f importedFunc) String() string { return f.module + "#" + f.name }

// hostileModule assembles the module importing funcs.
func hostileModule(funcs []importedFunc) []byte {
	var m wasmbin.Module
	for _, f := range funcs {
		m.ImportFunc(f.module, f.name, m.Type(f.params, f.results))
	}
	m.Memory(fuzzMemPages, fuzzMemPages)
	m.Global(i32, true, i32Const(reallocStart))
	tRealloc := m.Type([]byte{i32, i32, i32, i32}, []byte{i32})
	m.Export("cabi_realloc", wasmbin.ExportFunc, m.Func(tRealloc, []byte{0x01, 0x01, i32}, realloc()))
	m.Export("cabi_offer_slot", wasmbin.ExportFunc, m.Func(m.Type(nil, []byte{i32}), nil, i32Const(patchAt)))
	noType := m.Type(nil, nil)
	for k, f := range funcs {
		m.Export(fmt.Sprintf("f%d", k), wasmbin.ExportFunc, m.Func(noType, nil, caller(k, f)))
	}
	m.Export("memory", wasmbin.ExportMemory, 0)
	return m.Bytes()
}

const i32 = api.ValueTypeI32

// realloc is cabi_realloc(old, oldSize, align, newSize): local 4 is the
// pointer, the global the next free byte.
func realloc() []byte {
	var c []byte
	// p = (next + align - 1) & -align
	c = append(c, 0x23, 0, 0x20, 2, 0x6a)
	c = append(c, i32Const(1)...)
	c = append(c, 0x6b)
	c = append(c, i32Const(0)...)
	c = append(c, 0x20, 2, 0x6b, 0x71, 0x21, 4)
	// if p + newSize > end (or wraps below p): p = start
	c = append(c, 0x20, 4, 0x20, 3, 0x6a)
	c = append(c, i32Const(reallocEnd)...)
	c = append(c, 0x4b, 0x04, 0x40)
	c = append(c, i32Const(reallocStart)...)
	c = append(c, 0x21, 4, 0x0b)
	// next = p + newSize; return p
	c = append(c, 0x20, 4, 0x20, 3, 0x6a, 0x24, 0, 0x20, 4)
	return c
}

// caller loads f's parameters from the argument area and calls import k.
func caller(k int, f importedFunc) []byte {
	var c []byte
	for i, p := range f.params {
		c = append(c, i32Const(0)...)
		switch p {
		case api.ValueTypeI32:
			c = append(c, 0x28, 2)
		case api.ValueTypeI64:
			c = append(c, 0x29, 3)
		case api.ValueTypeF32:
			c = append(c, 0x2a, 2)
		case api.ValueTypeF64:
			c = append(c, 0x2b, 3)
		default:
			panic(fmt.Sprintf("%v: parameter type %#x", f, p))
		}
		c = append(c, uleb(uint64(8*i))...)
	}
	c = append(c, 0x10)
	c = append(c, uleb(uint64(k))...)
	for range f.results {
		c = append(c, 0x1a)
	}
	return c
}

var (
	uleb     = wasmbin.ULEB
	i32Const = wasmbin.I32Const
)
