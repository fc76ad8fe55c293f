package stopcheck

import (
	"fmt"
	"math"
)

// A reader decodes a byte slice; the first error sticks and every later
// read returns zero.
type reader struct {
	b    []byte
	pos  int
	base int // offset of b in the module, for errors
	err  error
	// added, when set, are the indices Instrument adds: global, table and
	// type indices at or past them fail (see instrumentFunc).
	added *indices
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
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.pos {
		r.fail(fmt.Sprintf("%d bytes past the end", n-(len(r.b)-r.pos)))
		return nil
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s
}

// leb reads an LEB128 number of at most bits bits, checking the unused
// bits of its last byte as the specification requires (signed: a sign
// extension of the value).
func (r *reader) leb(bits uint, signed bool) uint64 {
	var v uint64
	var shift uint
	maxBytes := (bits + 6) / 7
	for i := uint(0); ; i++ {
		if r.err != nil {
			return 0
		}
		if i == maxBytes {
			r.fail("LEB128 number too long")
			return 0
		}
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
		if c&0x80 != 0 {
			continue
		}
		if i == maxBytes-1 && bits%7 != 0 {
			// the last byte holds bits%7 value bits; the rest must be
			// zero (unsigned) or copies of the sign bit (signed)
			used := bits % 7
			rest := c >> used & (0x7f >> used)
			if signed {
				sign := c >> (used - 1) & 1
				want := byte(0)
				if sign == 1 {
					want = 0x7f >> used
				}
				if rest != want {
					r.fail("LEB128 number out of range")
				}
			} else if rest != 0 {
				r.fail("LEB128 number out of range")
			}
		}
		if signed && shift < 64 && c&0x40 != 0 {
			v |= ^uint64(0) << shift // sign extension
		}
		return v
	}
}

// section reads a section: its id, its body and the body's offset.
func (r *reader) section() (id byte, body []byte, off int) {
	id = r.byte()
	size := r.u32()
	off = r.pos
	return id, r.bytes(int(size)), off
}

func (r *reader) u32() uint32 { return uint32(r.leb(32, false)) }

func (r *reader) name() string {
	n := r.u32()
	return string(r.bytes(int(n)))
}

func (r *reader) limits() {
	switch flags := r.byte(); flags {
	case 0x00:
		r.u32()
	case 0x01:
		r.u32()
		r.u32()
	case 0x02: // shared without a maximum is invalid, but decodable
		r.u32()
	case 0x03: // shared (threads)
		r.u32()
		r.u32()
	default:
		r.fail(fmt.Sprintf("unknown limits flags 0x%02x", flags))
	}
}

// valtype reads a value type: a number, vector or reference type.
func (r *reader) valtype() {
	at := r.pos
	switch t := r.byte(); t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		if r.err == nil {
			r.pos = at
			r.fail(fmt.Sprintf("unknown value type 0x%02x", t))
		}
	}
}

// blocktype reads a block type: empty, a value type or a type index (a
// non-negative signed 33-bit number).
func (r *reader) blocktype() {
	if r.err != nil {
		return
	}
	if r.pos < len(r.b) {
		switch r.b[r.pos] {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
			r.pos++
			return
		}
	}
	at := r.pos
	if v := int64(r.leb(33, true)); r.err == nil && v < 0 {
		r.pos = at
		r.fail(fmt.Sprintf("unknown block type 0x%02x", r.b[at]))
	} else if r.err == nil && v >= int64(r.addedType()) {
		r.pos = at
		r.fail("a type index past the module's types")
	}
}

// typeIndex reads a type index.
func (r *reader) typeIndex() {
	if at := r.pos; r.u32() >= r.addedType() && r.err == nil {
		r.pos = at
		r.fail("a type index past the module's types")
	}
}

// global reads a global index.
func (r *reader) global() {
	if at := r.pos; r.u32() >= r.addedGlobal() && r.err == nil {
		r.pos = at
		r.fail("a global index past the module's globals")
	}
}

// table reads a table index.
func (r *reader) table() {
	if at := r.pos; r.u32() >= r.addedTable() && r.err == nil {
		r.pos = at
		r.fail("a table index past the module's tables")
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
	for r.err == nil {
		op := r.byte()
		r.immediates(op)
		if op == 0x0b {
			return
		}
	}
}

func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.u32() // offset (memory64 would make it 64 bits; wazero has no memory64)
}

// immediates reads the immediates of the instruction op, whose opcode
// byte was read, refusing an opcode it does not know.
func (r *reader) immediates(op byte) {
	at := r.pos - 1
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b:
		// unreachable, nop, else, end, return, drop, select
	case op == 0x02, op == 0x03, op == 0x04: // block, loop, if
		r.blocktype()
	case op == 0x0c, op == 0x0d: // br, br_if
		r.u32()
	case op == 0x0e: // br_table
		n := r.u32()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x10, op == 0x12: // call, return_call
		r.u32()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect: type, table
		r.typeIndex()
		r.table()
	case op == 0x1c: // select t*
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.valtype()
		}
	case op >= 0x20 && op <= 0x22: // local.get/set/tee
		r.u32()
	case op == 0x23, op == 0x24: // global.get/set
		r.global()
	case op == 0x25, op == 0x26: // table.get/set
		r.table()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41: // i32.const
		r.leb(32, true)
	case op == 0x42: // i64.const
		r.leb(64, true)
	case op == 0x43: // f32.const
		r.bytes(4)
	case op == 0x44: // f64.const
		r.bytes(8)
	case op >= 0x45 && op <= 0xc4: // numeric instructions, sign extension
	case op == 0xd0: // ref.null
		r.valtype()
	case op == 0xd1: // ref.is_null
	case op == 0xd2: // ref.func
		r.u32()
	case op == 0xfc:
		r.misc(at)
	case op == 0xfd:
		r.simd(at)
	default:
		r.pos = at
		r.fail(fmt.Sprintf("unknown or unsupported opcode 0x%02x", op))
	}
}

// misc reads a 0xFC instruction: saturating truncation, bulk memory and
// table instructions.
func (r *reader) misc(at int) {
	sub := r.u32()
	switch {
	case sub <= 7: // trunc_sat
	case sub == 8: // memory.init: data, memory
		r.u32()
		r.u32()
	case sub == 9: // data.drop
		r.u32()
	case sub == 10: // memory.copy: memory, memory
		r.u32()
		r.u32()
	case sub == 11: // memory.fill
		r.u32()
	case sub == 12: // table.init: element, table
		r.u32()
		r.table()
	case sub == 13: // elem.drop
		r.u32()
	case sub == 14: // table.copy: table, table
		r.table()
		r.table()
	case sub >= 15 && sub <= 17: // table.grow, table.size, table.fill
		r.table()
	default:
		if r.err == nil {
			r.pos = at
			r.fail(fmt.Sprintf("unknown or unsupported opcode 0xfc %d", sub))
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
	sub := r.u32()
	switch {
	case sub <= 0x0b: // v128.load*, v128.store
		r.memarg()
	case sub == 0x0c, sub == 0x0d: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		r.byte()
	case sub >= 0x54 && sub <= 0x5b: // v128.load*_lane, v128.store*_lane
		r.memarg()
		r.byte()
	case sub == 0x5c, sub == 0x5d: // v128.load32_zero, v128.load64_zero
		r.memarg()
	case sub <= 0xff && !simdUnassigned[sub]:
	default:
		if r.err == nil {
			r.pos = at
			r.fail(fmt.Sprintf("unknown or unsupported opcode 0xfd %d", sub))
		}
	}
}

// end fails unless the whole of b was read.
func (r *reader) end(what string) {
	if r.err == nil && r.pos != len(r.b) {
		r.fail(fmt.Sprintf("%d bytes left at the end of the %s", len(r.b)-r.pos, what))
	}
}
