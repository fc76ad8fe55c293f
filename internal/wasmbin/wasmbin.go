// Package wasmbin assembles small WebAssembly core modules byte by byte
// (WebAssembly Core Specification 2.0, Section 5, "Binary Format"), for
// tests that need a module no compiler would produce: a guest that calls
// every host function with bytes from a fuzzer, or a loop of host calls with
// nothing else in it.
//
// A Module collects its sections in the order their items are added;
// imports must come before the functions that Func defines, since the
// function index space counts imports first.
//
// Component and DoublingInstances assemble components (the Component
// Model's binary format) from core modules, for the tests of what an
// instantiation makes the host hold.
//
// A Reader reads the format's primitives back, for the packages that check
// or rewrite a module before wazero decodes it (internal/wasmsize,
// runtime/stopcheck).
package wasmbin

// Value types.
const (
	I32 byte = 0x7f
	I64 byte = 0x7e
	F32 byte = 0x7d
	F64 byte = 0x7c
)

// Export kinds.
const (
	ExportFunc   byte = 0x00
	ExportTable  byte = 0x01
	ExportMemory byte = 0x02
	ExportGlobal byte = 0x03
)

// A Module is a core module under construction. The zero value is empty.
type Module struct {
	types, imports, funcs, tables, code, globals, exports [][]byte
	typeIndex                                             map[string]int
	nImports                                              int
	memory                                                []byte // the memory type, nil for none
	start                                                 []byte // the start function's index, nil for none
}

// Type returns the index of the function type, adding it the first time.
func (m *Module) Type(params, results []byte) int {
	t := Cat([]byte{0x60}, ULEB(uint64(len(params))), params, ULEB(uint64(len(results))), results)
	if i, ok := m.typeIndex[string(t)]; ok {
		return i
	}
	if m.typeIndex == nil {
		m.typeIndex = map[string]int{}
	}
	m.typeIndex[string(t)] = len(m.types)
	m.types = append(m.types, t)
	return len(m.types) - 1
}

// ImportFunc imports a function of type typ and returns its index.
func (m *Module) ImportFunc(module, name string, typ int) int {
	if len(m.funcs) > 0 {
		panic("wasmbin: ImportFunc after Func")
	}
	m.imports = append(m.imports, Cat(Name(module), Name(name), []byte{0x00}, ULEB(uint64(typ))))
	m.nImports++
	return m.nImports - 1
}

// Import imports an item of kind (ExportTable, ExportMemory or
// ExportGlobal) whose type desc encodes as the import section does: a
// table's reference type and limits, a memory's limits, a global's value
// type and mutability. The items the module defines of that kind come
// after it in their index space.
func (m *Module) Import(module, name string, kind byte, desc []byte) {
	m.imports = append(m.imports, Cat(Name(module), Name(name), []byte{kind}, desc))
}

// Memory defines the module's memory of min pages, at most max pages when
// max is not negative.
func (m *Module) Memory(min, max int) {
	if max < 0 {
		m.memory = Cat([]byte{0x00}, ULEB(uint64(min)))
		return
	}
	m.memory = Cat([]byte{0x01}, ULEB(uint64(min)), ULEB(uint64(max)))
}

// Table defines a table of reference type ref (0x70 funcref, 0x6f
// externref) of min entries, at most max when max is not negative, and
// returns its index.
func (m *Module) Table(ref byte, min, max int) int {
	if max < 0 {
		m.tables = append(m.tables, Cat([]byte{ref, 0x00}, ULEB(uint64(min))))
	} else {
		m.tables = append(m.tables, Cat([]byte{ref, 0x01}, ULEB(uint64(min)), ULEB(uint64(max))))
	}
	return len(m.tables) - 1
}

// Global defines a global of type t initialised by the constant
// expression init (without its end byte) and returns its index.
func (m *Module) Global(t byte, mutable bool, init []byte) int {
	mut := byte(0)
	if mutable {
		mut = 1
	}
	m.globals = append(m.globals, Cat([]byte{t, mut}, init, []byte{0x0b}))
	return len(m.globals) - 1
}

// Func defines a function of type typ with the given locals (the encoded
// vector of local declarations, nil for none) and body (without its end
// byte), and returns its index.
func (m *Module) Func(typ int, locals, body []byte) int {
	if locals == nil {
		locals = []byte{0x00}
	}
	m.funcs = append(m.funcs, ULEB(uint64(typ)))
	b := Cat(locals, body, []byte{0x0b})
	m.code = append(m.code, Cat(ULEB(uint64(len(b))), b))
	return m.nImports + len(m.funcs) - 1
}

// Export exports item idx of the kind under name.
func (m *Module) Export(name string, kind byte, idx int) {
	m.exports = append(m.exports, Cat(Name(name), []byte{kind}, ULEB(uint64(idx))))
}

// Bytes encodes the module.
// Start makes function idx the module's start function, which runs when
// it is instantiated.
func (m *Module) Start(idx int) { m.start = ULEB(uint64(idx)) }

func (m *Module) Bytes() []byte {
	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	add := func(id byte, items [][]byte) {
		if len(items) > 0 {
			out = append(out, Section(id, Vec(items))...)
		}
	}
	add(1, m.types)
	add(2, m.imports)
	add(3, m.funcs)
	add(4, m.tables)
	if m.memory != nil {
		add(5, [][]byte{m.memory})
	}
	add(6, m.globals)
	add(7, m.exports)
	if m.start != nil {
		out = append(out, Section(8, m.start)...)
	}
	add(10, m.code)
	return out
}

// ULEB is v in unsigned LEB128.
func ULEB(v uint64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// I32Const is the instruction i32.const v (signed LEB128 immediate).
func I32Const(v int32) []byte { return sleb(0x41, int64(v)) }

// I64Const is the instruction i64.const v (signed LEB128 immediate).
func I64Const(v int64) []byte { return sleb(0x42, v) }

// sleb is the instruction op with the signed LEB128 immediate x.
func sleb(op byte, x int64) []byte {
	out := []byte{op}
	for {
		b := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && b&0x40 == 0) || (x == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// Name is a name: its length, then its UTF-8 bytes.
func Name(s string) []byte { return Cat(ULEB(uint64(len(s))), []byte(s)) }

// Vec is a vector: its length, then its items.
func Vec(items [][]byte) []byte { return Cat(ULEB(uint64(len(items))), Cat(items...)) }

// Section is a section with its id and size.
func Section(id byte, body []byte) []byte { return Cat([]byte{id}, ULEB(uint64(len(body))), body) }

// Cat concatenates byte slices into a new one.
func Cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Component is a component (the Component Model's binary format, layer
// 1) of the sections given.
func Component(sections ...[]byte) []byte {
	return Cat([]byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00}, Cat(sections...))
}

// Component section ids.
const (
	SectionCoreModule   byte = 1
	SectionCoreInstance byte = 2
	SectionComponent    byte = 4
	SectionInstance     byte = 5
)

// CoreInstances is a component that instantiates core module mod n times,
// without arguments.
func CoreInstances(mod []byte, n int) []byte {
	insts := make([][]byte, n)
	for i := range insts {
		insts[i] = []byte{0x00, 0x00, 0x00} // instantiate module 0, no arguments
	}
	return Component(Section(SectionCoreModule, mod), Section(SectionCoreInstance, Vec(insts)))
}

// DoublingInstances is a component of n levels, each nesting the one
// below and instantiating it twice: 2^n instances of the innermost,
// component inner.
func DoublingInstances(inner []byte, n int) []byte {
	c := inner
	twice := Vec([][]byte{{0x00, 0x00, 0x00}, {0x00, 0x00, 0x00}}) // instantiate component 0, no arguments
	for range n {
		c = Component(Section(SectionComponent, c), Section(SectionInstance, twice))
	}
	return c
}
