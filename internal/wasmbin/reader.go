package wasmbin

import "fmt"

// A Reader decodes the primitives of the binary format from B: bytes,
// LEB128 integers, names, sized sections and limits. Its first failure
// sticks in Err, and every later read returns zero, so a caller reads a
// whole structure and checks Err once.
//
// Readers that check a module for different ends (internal/wasmsize,
// runtime/stopcheck) embed a Reader and add the structures they read; each
// says with NewError what its errors are.
type Reader struct {
	B    []byte
	Pos  int   // of the next byte in B
	Base int   // offset of B in the module, for errors
	Err  error // the first failure
	// NewError makes the error of a failure at offset in the module.
	NewError func(offset int, msg string) error
}

// Fail records a failure at the current position unless one is recorded.
func (r *Reader) Fail(msg string) {
	if r.Err == nil {
		r.Err = r.NewError(r.Base+r.Pos, msg)
	}
}

// Left is how many bytes are left to read.
func (r *Reader) Left() int { return len(r.B) - r.Pos }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.Err != nil {
		return 0
	}
	if r.Pos >= len(r.B) {
		r.Fail("unexpected end")
		return 0
	}
	c := r.B[r.Pos]
	r.Pos++
	return c
}

// Bytes reads n bytes of a what, failing when fewer are left.
func (r *Reader) Bytes(n uint64, what string) []byte {
	if r.Err != nil {
		return nil
	}
	if n > uint64(r.Left()) {
		r.Fail(fmt.Sprintf("a %s of %d bytes where %d are left", what, n, r.Left()))
		return nil
	}
	s := r.B[r.Pos : r.Pos+int(n)]
	r.Pos += int(n)
	return s
}

// LEB reads an LEB128 number of at most bits bits, checking the unused
// bits of its last byte as the specification requires (signed: a sign
// extension of the value); a signed value comes sign-extended to 64 bits.
func (r *Reader) LEB(bits uint, signed bool) uint64 {
	var v uint64
	var shift uint
	maxBytes := (bits + 6) / 7
	for i := uint(0); ; i++ {
		if r.Err != nil {
			return 0
		}
		if i == maxBytes {
			r.Fail("LEB128 number too long")
			return 0
		}
		c := r.Byte()
		if r.Err != nil {
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
					r.Fail("LEB128 number out of range")
				}
			} else if rest != 0 {
				r.Fail("LEB128 number out of range")
			}
		}
		if signed && shift < 64 && c&0x40 != 0 {
			v |= ^uint64(0) << shift // sign extension
		}
		return v
	}
}

// U32 reads an unsigned 32-bit number (a count, size or index).
func (r *Reader) U32() uint32 { return uint32(r.LEB(32, false)) }

// Name reads a name: its length and its bytes.
func (r *Reader) Name() string { return string(r.Bytes(uint64(r.U32()), "name")) }

// Sized reads a size and that many bytes of a what, and returns them and
// their offset in the module.
func (r *Reader) Sized(what string) (b []byte, offset int) {
	b = r.Bytes(uint64(r.U32()), what)
	return b, r.Base + r.Pos - len(b)
}

// Limits reads the limits of a table or memory type: flags, a minimum
// and, with flag bit 0, a maximum (flags 2 and 3 are shared memories).
func (r *Reader) Limits() {
	switch flags := r.Byte(); flags {
	case 0x00, 0x02: // shared without a maximum is invalid, but decodable
		r.U32()
	case 0x01, 0x03:
		r.U32()
		r.U32()
	default:
		r.Fail(fmt.Sprintf("unknown limits flags 0x%02x", flags))
	}
}

// End fails unless the whole of B was read.
func (r *Reader) End(what string) {
	if r.Err == nil && r.Pos != len(r.B) {
		r.Fail(fmt.Sprintf("%d bytes left at the end of the %s", len(r.B)-r.Pos, what))
	}
}
