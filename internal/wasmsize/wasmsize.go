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
//     allocates for each;
//   - a LEB128 number out of its type's range, limits of unknown flags
//     (read as the specification says, by [wasmbin.Reader]).
//
// So what wazero allocates while decoding is a small multiple of the
// module's size. Check validates nothing else: a module it passes may still
// be invalid, which wazero then says.
package wasmsize

import (
	"fmt"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

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

	// Truncated is whether the module ends inside a section of a known
	// kind (its size or its contents), which starts at Section: a file
	// cut short, or one whose section size is wrong, not a complete
	// WebAssembly module.
	Truncated bool
	Section   int // with Truncated, the offset of the section's id
	Size      int // with Truncated, the module's length
}

func (e *Error) Error() string {
	if e.Truncated {
		return fmt.Sprintf("wasm: truncated: the module ends at byte %d, inside the section at byte %d (at byte %d: %s); not a complete WebAssembly module",
			e.Size, e.Section, e.Offset, e.Msg)
	}
	return fmt.Sprintf("wasm: at byte %d: %s", e.Offset, e.Msg)
}

// Check returns an *Error when a count or length of the core module wasm
// exceeds the bytes that carry it, or its functions declare too many
// locals. Input that is not a core module (no header, another version) is
// left to the decoder: Check returns nil.
func Check(wasm []byte) error {
	if len(wasm) < 8 || string(wasm[:8]) != "\x00asm\x01\x00\x00\x00" {
		return nil
	}
	r := newReader(wasm, 0)
	r.Pos = 8
	var locals uint64
	for r.Pos < len(r.B) && r.Err == nil {
		start := r.Pos
		id := r.Byte()
		s := r.sub("section")
		if e, ok := r.Err.(*Error); ok && id <= 13 {
			// A section of a known kind: a file cut short (or a wrong
			// section size; an unknown kind is more likely not a module).
			e.Truncated, e.Section, e.Size = true, start, len(wasm)
			break
		}
		switch id {
		case 0:
			if s.Name() == "name" {
				s.names()
			}
		case 1:
			s.vec(s.functype)
		case 2:
			s.vec(s.importDesc)
		case 3, 4, 5, 6, 13: // functions, tables, memories, globals, tags
			s.count()
		case 7:
			s.vec(func() { s.Name(); s.Byte(); s.U32() })
		case 9:
			s.vec(s.elem)
		case 10:
			s.vec(func() {
				f := s.sub("function body")
				locals += f.locals()
				if f.Err == nil && locals > MaxModuleLocals {
					f.Fail(fmt.Sprintf("the module's functions declare more than %d locals together", MaxModuleLocals))
				}
				s.Err = f.Err
			})
		case 11:
			s.vec(s.data)
		}
		r.Err = s.Err
	}
	return r.Err
}

// A reader reads a module for Check: the binary format's primitives
// (wasmbin.Reader), its errors *Error, and the structures wazero
// allocates for.
type reader struct{ wasmbin.Reader }

// newReader reads b, which stands at offset base in the module.
func newReader(b []byte, base int) *reader {
	return &reader{wasmbin.Reader{B: b, Base: base, NewError: newError}}
}

func newError(offset int, msg string) error { return &Error{Offset: offset, Msg: msg} }

// sub reads a size and returns a reader of that many bytes, which shares
// r's error when they are not there.
func (r *reader) sub(what string) *reader {
	s := newReader(r.Sized(what))
	s.Err = r.Err
	return s
}

// count reads a vector's count, failing when more items are declared than
// bytes are left.
func (r *reader) count() uint32 {
	n := r.U32()
	if r.Err == nil && uint64(n) > uint64(len(r.B)-r.Pos) {
		r.Fail(fmt.Sprintf("%d items declared where %d bytes are left", n, len(r.B)-r.Pos))
		return 0
	}
	return n
}

// vec reads a vector whose items item reads.
func (r *reader) vec(item func()) {
	n := r.count()
	for i := uint32(0); i < n && r.Err == nil; i++ {
		item()
	}
}

// valtype reads a value or reference type: one byte, or a typed reference
// (0x63, 0x64) and its heap type.
func (r *reader) valtype() {
	if b := r.Byte(); b == 0x63 || b == 0x64 {
		r.LEB(33, true) // heap type
	}
}

func (r *reader) functype() {
	if r.Err == nil && r.Pos < len(r.B) && r.B[r.Pos] == 0x4e { // a recursive type group
		r.Pos++
		r.vec(r.functype)
		return
	}
	if form := r.Byte(); form != 0x60 && r.Err == nil {
		r.Pos--
		r.Fail(fmt.Sprintf("function type form 0x%02x", form))
	}
	r.vec(r.valtype)
	r.vec(r.valtype)
}

func (r *reader) importDesc() {
	r.Name()
	r.Name()
	switch kind := r.Byte(); kind {
	case 0x00: // function
		r.U32()
	case 0x01: // table
		r.valtype()
		r.Limits()
	case 0x02: // memory
		r.Limits()
	case 0x03: // global
		r.valtype()
		r.Byte()
	case 0x04: // tag
		r.Byte()
		r.U32()
	default:
		r.Pos--
		r.Fail(fmt.Sprintf("unknown import kind 0x%02x", kind))
	}
}

// expr reads a constant expression, up to and including its end, with
// the instructions wazero allows in one.
func (r *reader) expr() {
	for r.Err == nil {
		switch op := r.Byte(); op {
		case 0x0b: // end
			return
		case 0x41: // i32.const
			r.LEB(32, true)
		case 0x23, 0xd2: // global.get, ref.func
			r.U32()
		case 0x42: // i64.const
			r.LEB(64, true)
		case 0x43: // f32.const
			r.Bytes(4, "f32.const")
		case 0x44: // f64.const
			r.Bytes(8, "f64.const")
		case 0xd0: // ref.null: a heap type
			r.LEB(33, true)
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constants
		case 0xfd: // v128.const
			r.U32()
			r.Bytes(16, "v128.const")
		default:
			if r.Err == nil {
				r.Pos--
				r.Fail(fmt.Sprintf("opcode 0x%02x in a constant expression", op))
			}
		}
	}
}

// elem reads an element segment.
func (r *reader) elem() {
	flags := r.U32()
	if flags > 7 {
		r.Fail(fmt.Sprintf("element segment flags %d", flags))
		return
	}
	if flags == 2 || flags == 6 {
		r.U32() // table
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
		r.vec(func() { r.U32() })
	}
}

// data reads a data segment.
func (r *reader) data() {
	switch flags := r.U32(); flags {
	case 0:
		r.expr()
	case 1:
	case 2:
		r.U32()
		r.expr()
	default:
		r.Fail(fmt.Sprintf("data segment flags %d", flags))
	}
	r.Bytes(uint64(r.U32()), "data segment")
}

// locals reads a function body's locals and returns how many it declares.
func (r *reader) locals() uint64 {
	var n uint64
	r.vec(func() {
		n += uint64(r.U32())
		r.valtype()
		if n > MaxLocals {
			r.Fail(fmt.Sprintf("a function declares more than %d locals", MaxLocals))
		}
	})
	return n
}

// names reads the name section's subsections wazero decodes: the module
// name, function names and local names.
func (r *reader) names() {
	for r.Pos < len(r.B) && r.Err == nil {
		id := r.Byte()
		sub := r.sub("name subsection")
		switch id {
		case 0:
			sub.Name()
		case 1:
			sub.vec(func() { sub.U32(); sub.Name() })
		case 2:
			sub.vec(func() {
				sub.U32()
				sub.vec(func() { sub.U32(); sub.Name() })
			})
		}
		if r.Err == nil {
			r.Err = sub.Err
		}
	}
}
