package stopcheck

import (
	"fmt"
	"math"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// A reader reads a module for Instrument and CapTables: the binary
// format's primitives (wasmbin.Reader), its errors *Error, and the
// structures the rewrite looks into.
type reader struct {
	wasmbin.Reader
	// added, when set, are the indices Instrument adds: global, table and
	// type indices at or past them fail (see instrumentFunc).
	added *indices
}

// newReader reads b, which stands at offset base in the module.
func newReader(b []byte, base int) *reader {
	return &reader{Reader: wasmbin.Reader{B: b, Base: base, NewError: newError}}
}

func newError(offset int, msg string) error { return &Error{offset, msg} }

// section reads a section: its id, its body and the body's offset.
func (r *reader) section() (id byte, body []byte, off int) {
	id = r.Byte()
	body, off = r.Sized("section")
	return id, body, off
}

// valtype reads a value type: a number, vector or reference type.
func (r *reader) valtype() {
	at := r.Pos
	switch t := r.Byte(); t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		if r.Err == nil {
			r.Pos = at
			r.Fail(fmt.Sprintf("unknown value type 0x%02x", t))
		}
	}
}

// blocktype reads a block type: empty, a value type or a type index (a
// non-negative signed 33-bit number).
func (r *reader) blocktype() {
	if r.Err != nil {
		return
	}
	if r.Pos < len(r.B) {
		switch r.B[r.Pos] {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
			r.Pos++
			return
		}
	}
	at := r.Pos
	if v := int64(r.LEB(33, true)); r.Err == nil && v < 0 {
		r.Pos = at
		r.Fail(fmt.Sprintf("unknown block type 0x%02x", r.B[at]))
	} else if r.Err == nil && v >= int64(r.addedType()) {
		r.Pos = at
		r.Fail("a type index past the module's types")
	}
}

// typeIndex reads a type index.
func (r *reader) typeIndex() {
	if at := r.Pos; r.U32() >= r.addedType() && r.Err == nil {
		r.Pos = at
		r.Fail("a type index past the module's types")
	}
}

// global reads a global index.
func (r *reader) global() {
	if at := r.Pos; r.U32() >= r.addedGlobal() && r.Err == nil {
		r.Pos = at
		r.Fail("a global index past the module's globals")
	}
}

// table reads a table index.
func (r *reader) table() {
	if at := r.Pos; r.U32() >= r.addedTable() && r.Err == nil {
		r.Pos = at
		r.Fail("a table index past the module's tables")
	}
}

func (r *reader) addedGlobal() uint32 {
	if r.added == nil {
		return math.MaxUint32
	}
	return r.added.stop
}

// addedType is the first type index the rewrite may append (see
// blockTypes).
func (r *reader) addedType() uint32 {
	if r.added == nil {
		return math.MaxUint32
	}
	return r.added.types
}

func (r *reader) addedTable() uint32 {
	if r.added == nil {
		return math.MaxUint32
	}
	return r.added.table
}

// expr reads a constant expression, up to and including its end.
func (r *reader) expr() {
	for r.Err == nil {
		op := r.Byte()
		r.immediates(op)
		if op == 0x0b {
			return
		}
	}
}

func (r *reader) memarg() {
	align := r.U32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.U32()
	}
	r.U32() // offset (memory64 would make it 64 bits; wazero has no memory64)
}

// immediates reads the immediates of the instruction op, whose opcode
// byte was read, refusing an opcode it does not know.
func (r *reader) immediates(op byte) {
	at := r.Pos - 1
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b:
		// unreachable, nop, else, end, return, drop, select
	case op == 0x02, op == 0x03, op == 0x04: // block, loop, if
		r.blocktype()
	case op == 0x0c, op == 0x0d: // br, br_if
		r.U32()
	case op == 0x0e: // br_table
		n := r.U32()
		for i := uint32(0); i <= n && r.Err == nil; i++ {
			r.U32()
		}
	case op == 0x10, op == 0x12: // call, return_call
		r.U32()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect: type, table
		r.typeIndex()
		r.table()
	case op == 0x1c: // select t*
		n := r.U32()
		for i := uint32(0); i < n && r.Err == nil; i++ {
			r.valtype()
		}
	case op >= 0x20 && op <= 0x22: // local.get/set/tee
		r.U32()
	case op == 0x23, op == 0x24: // global.get/set
		r.global()
	case op == 0x25, op == 0x26: // table.get/set
		r.table()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		r.U32()
	case op == 0x41: // i32.const
		r.LEB(32, true)
	case op == 0x42: // i64.const
		r.LEB(64, true)
	case op == 0x43: // f32.const
		r.Bytes(4, "f32.const")
	case op == 0x44: // f64.const
		r.Bytes(8, "f64.const")
	case op >= 0x45 && op <= 0xc4: // numeric instructions, sign extension
	case op == 0xd0: // ref.null
		r.valtype()
	case op == 0xd1: // ref.is_null
	case op == 0xd2: // ref.func
		r.U32()
	case op == 0xfc:
		r.misc(at)
	case op == 0xfd:
		r.simd(at)
	default:
		r.Pos = at
		r.Fail(fmt.Sprintf("unknown or unsupported opcode 0x%02x", op))
	}
}

// misc reads a 0xFC instruction: saturating truncation, bulk memory and
// table instructions.
func (r *reader) misc(at int) {
	sub := r.U32()
	switch {
	case sub <= 7: // trunc_sat
	case sub == 8: // memory.init: data, memory
		r.U32()
		r.U32()
	case sub == 9: // data.drop
		r.U32()
	case sub == 10: // memory.copy: memory, memory
		r.U32()
		r.U32()
	case sub == 11: // memory.fill
		r.U32()
	case sub == 12: // table.init: element, table
		r.U32()
		r.table()
	case sub == 13: // elem.drop
		r.U32()
	case sub == 14: // table.copy: table, table
		r.table()
		r.table()
	case sub >= 15 && sub <= 17: // table.grow, table.size, table.fill
		r.table()
	default:
		if r.Err == nil {
			r.Pos = at
			r.Fail(fmt.Sprintf("unknown or unsupported opcode 0xfc %d", sub))
		}
	}
}

// simdUnassigned are the 0xFD sub-opcodes up to 0xff that wazero 1.12
// does not define (internal/wasm/instruction.go, the OpcodeVec constants);
// the others without a case in simd take no immediates.
var simdUnassigned = map[uint32]bool{
	0x9a: true, 0xa2: true, 0xa5: true, 0xa6: true, 0xaf: true, 0xb0: true, 0xb2: true,
	0xb3: true, 0xb4: true, 0xbb: true, 0xc2: true, 0xc5: true, 0xc6: true, 0xcf: true,
	0xd0: true, 0xd2: true, 0xd3: true, 0xd4: true, 0xe2: true, 0xee: true,
}

// simd reads a 0xFD instruction (128-bit SIMD).
func (r *reader) simd(at int) {
	sub := r.U32()
	switch {
	case sub <= 0x0b: // v128.load*, v128.store
		r.memarg()
	case sub == 0x0c, sub == 0x0d: // v128.const, i8x16.shuffle
		r.Bytes(16, "v128 immediate")
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		r.Byte()
	case sub >= 0x54 && sub <= 0x5b: // v128.load*_lane, v128.store*_lane
		r.memarg()
		r.Byte()
	case sub == 0x5c, sub == 0x5d: // v128.load32_zero, v128.load64_zero
		r.memarg()
	case sub <= 0xff && !simdUnassigned[sub]:
	default:
		if r.Err == nil {
			r.Pos = at
			r.Fail(fmt.Sprintf("unknown or unsupported opcode 0xfd %d", sub))
		}
	}
}
