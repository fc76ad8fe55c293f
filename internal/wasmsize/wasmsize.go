// Package wasmsize checks, before wazero decodes a core module, that every
// count and length the module declares fits in the bytes that carry it.
//
// wazero 1.12's decoder allocates for a declared count before reading the
// items (internal/wasm/binary: a function type's parameters and results,
// names, element vectors, data segments, name maps, a section's size, a
// function's locals), and Go cannot recover from an allocation it has no
// memory for: 18 bytes declaring a function type of 2^32-1 results made
// CompileModule ask for 32 GiB and the process die with "fatal error:
// runtime: out of memory". [Check] walks the module's sections (WebAssembly
// Core Specification 2.0, Section 5, "Binary Format", with the extensions
// wazero decodes: recursive type groups, typed references) and refuses
//
//   - a section, a name, a data segment or a function body longer than
//     what is left of its section (of the module, for a section);
//   - a vector (of types, value types, imports, functions, tables,
//     memories, globals, exports, element segments and their elements, data
//     segments, tags, names) with more items than bytes left: every item
//     takes one byte at least;
//   - a function declaring more than [MaxLocals] locals, or a module more
//     than [MaxModuleLocals] together: locals take no bytes, and wazero
//     allocates for each.
//
// So what wazero allocates while decoding is a small multiple of the
// module's size. Check validates nothing else: a module it passes may still
// be invalid, which wazero then says.
package wasmsize

import "fmt"

// MaxLocals is the most locals one function may declare: the limit of the
// WebAssembly JavaScript API (Section 7, "Limits"), which browsers enforce,
// so no module that runs on the web declares more.
const MaxLocals = 50_000

// MaxModuleLocals is the most locals the functions of one module may
// declare together (64 MiB of wazero's value types).
const MaxModuleLocals = 1 << 23

// An Error is a module Check refuses.
type Error struct {
	Offset int // in the module
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("wasm: at byte %d: %s", e.Offset, e.Msg) }

// Check returns an *Error when a count or length of the core module wasm
// exceeds the bytes that carry it, or its functions declare too many
// locals. Input that is not a core module (no header, another version) is
// left to the decoder: Check returns nil.
func Check(wasm []byte) error {
	if len(wasm) < 8 || string(wasm[:8]) != "\x00asm\x01\x00\x00\x00" {
		return nil
	}
	r := &reader{b: wasm, pos: 8}
	var locals uint64
	for r.pos < len(r.b) && r.err == nil {
		id := r.byte()
		s := r.sub("section")
		switch id {
		case 0:
			if s.name() == "name" {
				s.names()
			}
		case 1:
			s.vec(s.functype)
		case 2:
			s.vec(s.importDesc)
		case 3, 4, 5, 6, 13: // functions, tables, memories, globals, tags
			s.count()
		case 7:
			s.vec(func() { s.name(); s.byte(); s.u32() })
		case 9:
			s.vec(s.elem)
		case 10:
			s.vec(func() {
				f := s.sub("function body")
				locals += f.locals()
				if f.err == nil && locals > MaxModuleLocals {
					f.fail(fmt.Sprintf("the module's functions declare more than %d locals together", MaxModuleLocals))
				}
				s.err = f.err
			})
		case 11:
			s.vec(s.data)
		}
		r.err = s.err
	}
	return r.err
}

// A reader decodes a byte slice; the first error sticks and every later
// read returns zero.
type reader struct {
	b    []byte
	pos  int
	base int // offset of b in the module
	err  error
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = &Error{r.base + r.pos, msg}
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	r.pos++
	return r.b[r.pos-1]
}

// leb reads an LEB128 number of at most maxBytes bytes, its value
// truncated to 64 bits (the decoder checks its range).
func (r *reader) leb(maxBytes int) uint64 {
	var v uint64
	for i := 0; i < maxBytes && r.err == nil; i++ {
		c := r.byte()
		if i < 10 {
			v |= uint64(c&0x7f) << (7 * i)
		}
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("LEB128 number too long")
	return 0
}

func (r *reader) u32() uint32 { return uint32(r.leb(5)) }

// bytes reads n bytes, failing when fewer are left.
func (r *reader) bytes(n uint32, what string) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)-r.pos) {
		r.fail(fmt.Sprintf("a %s of %d bytes where %d are left", what, n, len(r.b)-r.pos))
		return nil
	}
	r.pos += int(n)
	return r.b[r.pos-int(n) : r.pos]
}

// sub reads a size and returns a reader of that many bytes, which shares
// r's error when they are not there.
func (r *reader) sub(what string) *reader {
	b := r.bytes(r.u32(), what)
	return &reader{b: b, base: r.base + r.pos - len(b), err: r.err}
}

func (r *reader) name() string { return string(r.bytes(r.u32(), "name")) }

// count reads a vector's count, failing when more items are declared than
// bytes are left.
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.pos) {
		r.fail(fmt.Sprintf("%d items declared where %d bytes are left", n, len(r.b)-r.pos))
		return 0
	}
	return n
}

// vec reads a vector whose items item reads.
func (r *reader) vec(item func()) {
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		item()
	}
}

// valtype reads a value or reference type: one byte, or a typed reference
// (0x63, 0x64) and its heap type.
func (r *reader) valtype() {
	if b := r.byte(); b == 0x63 || b == 0x64 {
		r.leb(5) // heap type, a signed 33-bit number
	}
}

func (r *reader) functype() {
	if r.err == nil && r.pos < len(r.b) && r.b[r.pos] == 0x4e { // a recursive type group
		r.pos++
		r.vec(r.functype)
		return
	}
	if form := r.byte(); form != 0x60 && r.err == nil {
		r.pos--
		r.fail(fmt.Sprintf("function type form 0x%02x", form))
	}
	r.vec(r.valtype)
	r.vec(r.valtype)
}

func (r *reader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

func (r *reader) importDesc() {
	r.name()
	r.name()
	switch kind := r.byte(); kind {
	case 0x00: // function
		r.u32()
	case 0x01: // table
		r.valtype()
		r.limits()
	case 0x02: // memory
		r.limits()
	case 0x03: // global
		r.valtype()
		r.byte()
	case 0x04: // tag
		r.byte()
		r.u32()
	default:
		r.pos--
		r.fail(fmt.Sprintf("unknown import kind 0x%02x", kind))
	}
}

// expr reads a constant expression, up to and including its end, with
// the instructions wazero allows in one.
func (r *reader) expr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41, 0x23, 0xd2: // i32.const, global.get, ref.func
			r.leb(5)
		case 0x42: // i64.const
			r.leb(10)
		case 0x43: // f32.const
			r.bytes(4, "f32.const")
		case 0x44: // f64.const
			r.bytes(8, "f64.const")
		case 0xd0: // ref.null: a heap type
			r.leb(5)
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constants
		case 0xfd: // v128.const
			r.u32()
			r.bytes(16, "v128.const")
		default:
			if r.err == nil {
				r.pos--
				r.fail(fmt.Sprintf("opcode 0x%02x in a constant expression", op))
			}
		}
	}
}

// elem reads an element segment.
func (r *reader) elem() {
	flags := r.u32()
	if flags > 7 {
		r.fail(fmt.Sprintf("element segment flags %d", flags))
		return
	}
	if flags == 2 || flags == 6 {
		r.u32() // table
	}
	if flags&1 == 0 {
		r.expr() // offset
	}
	if flags&3 != 0 {
		r.valtype() // element kind or reference type
	}
	if flags&4 != 0 {
		r.vec(r.expr)
	} else {
		r.vec(func() { r.u32() })
	}
}

// data reads a data segment.
func (r *reader) data() {
	switch flags := r.u32(); flags {
	case 0:
		r.expr()
	case 1:
	case 2:
		r.u32()
		r.expr()
	default:
		r.fail(fmt.Sprintf("data segment flags %d", flags))
	}
	r.bytes(r.u32(), "data segment")
}

// locals reads a function body's locals and returns how many it declares.
func (r *reader) locals() uint64 {
	var n uint64
	r.vec(func() {
		n += uint64(r.u32())
		r.valtype()
		if n > MaxLocals {
			r.fail(fmt.Sprintf("a function declares more than %d locals", MaxLocals))
		}
	})
	return n
}

// names reads the name section's subsections wazero decodes: the module
// name, function names and local names.
func (r *reader) names() {
	for r.pos < len(r.b) && r.err == nil {
		id := r.byte()
		sub := r.sub("name subsection")
		switch id {
		case 0:
			sub.name()
		case 1:
			sub.vec(func() { sub.u32(); sub.name() })
		case 2:
			sub.vec(func() {
				sub.u32()
				sub.vec(func() { sub.u32(); sub.name() })
			})
		}
		if r.err == nil {
			r.err = sub.err
		}
	}
}
