package runtime_test

import (
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// The hostile guest of FuzzHostCalls is a core module assembled here: it
// imports every host function the runtime serves and exports, for the k-th
// import, a function "fk" without parameters that loads the import's
// parameters from the argument area at address 0 (8 bytes each, as the
// import's type), calls it and drops its results. It also exports its
// memory (fuzzMemPages pages, not growable) and a cabi_realloc that bumps
// through [reallocStart, reallocEnd), starting over at the start when an
// allocation does not fit.

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
	var types [][]byte
	typeIndex := map[string]int{}
	typeOf := func(params, results []api.ValueType) int {
		t := append(append(append([]byte{0x60}, uleb(uint64(len(params)))...), params...), uleb(uint64(len(results)))...)
		t = append(t, results...)
		if i, ok := typeIndex[string(t)]; ok {
			return i
		}
		typeIndex[string(t)] = len(types)
		types = append(types, t)
		return len(types) - 1
	}
	var imports, funcIdx, exports, codes [][]byte
	for _, f := range funcs {
		imp := append(name(f.module), name(f.name)...)
		imports = append(imports, append(append(imp, 0x00), uleb(uint64(typeOf(f.params, f.results)))...))
	}
	n := len(funcs)
	// cabi_realloc, function n.
	funcIdx = append(funcIdx, uleb(uint64(typeOf([]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}))))
	exports = append(exports, export("cabi_realloc", 0, n))
	codes = append(codes, body([]byte{0x01, 0x01, i32}, realloc()))
	// The callers, functions n+1 onwards.
	noType := uleb(uint64(typeOf(nil, nil)))
	for k, f := range funcs {
		funcIdx = append(funcIdx, noType)
		exports = append(exports, export(fmt.Sprintf("f%d", k), 0, n+1+k))
		codes = append(codes, body([]byte{0x00}, caller(k, f)))
	}
	exports = append(exports, export("memory", 2, 0))

	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	out = append(out, section(1, types)...)
	out = append(out, section(2, imports)...)
	out = append(out, section(3, funcIdx)...)
	out = append(out, section(5, [][]byte{{0x01, fuzzMemPages, fuzzMemPages}})...)
	global := append([]byte{i32, 0x01}, i32Const(reallocStart)...)
	out = append(out, section(6, [][]byte{append(global, 0x0b)})...)
	out = append(out, section(7, exports)...)
	out = append(out, section(10, codes)...)
	return out
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

func body(locals, code []byte) []byte {
	b := append(append([]byte(nil), locals...), code...)
	b = append(b, 0x0b)
	return append(uleb(uint64(len(b))), b...)
}

func section(id byte, items [][]byte) []byte {
	content := uleb(uint64(len(items)))
	for _, it := range items {
		content = append(content, it...)
	}
	return append(append([]byte{id}, uleb(uint64(len(content)))...), content...)
}

func export(n string, kind byte, idx int) []byte {
	return append(append(name(n), kind), uleb(uint64(idx))...)
}

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func uleb(v uint64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

func i32Const(v int32) []byte {
	out := []byte{0x41}
	x := int64(v)
	for {
		b := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && b&0x40 == 0) || (x == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}
