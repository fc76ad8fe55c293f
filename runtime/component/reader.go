package component

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// errTruncated is wrapped by every error about input that ends early.
var errTruncated = errors.New("unexpected end of input")

// A reader decodes the binary format's primitives from a byte slice. Every
// method returns an error instead of reading past the end.
type reader struct {
	b   []byte
	off int // offset of b[0] in the whole binary, for messages
}

func (r *reader) empty() bool { return len(r.b) == 0 }

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("at offset %d: %s", r.off, fmt.Sprintf(format, args...))
}

func (r *reader) truncated(what string) error {
	return fmt.Errorf("at offset %d: %s: %w", r.off, what, errTruncated)
}

func (r *reader) byte(what string) (byte, error) {
	if len(r.b) == 0 {
		return 0, r.truncated(what)
	}
	c := r.b[0]
	r.b = r.b[1:]
	r.off++
	return c, nil
}

func (r *reader) peek() (byte, bool) {
	if len(r.b) == 0 {
		return 0, false
	}
	return r.b[0], true
}

func (r *reader) bytes(n uint32, what string) ([]byte, error) {
	if uint64(n) > uint64(len(r.b)) {
		return nil, r.truncated(what)
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	r.off += int(n)
	return s, nil
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *reader) u32(what string) (uint32, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := r.byte(what)
		if err != nil {
			return 0, err
		}
		if i == 4 && c > 0x0f {
			return 0, r.errorf("%s: integer too large for u32", what)
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, r.errorf("%s: integer representation too long", what)
}

// count reads a vector length, refusing lengths that cannot fit in what
// remains (every element takes at least one byte).
func (r *reader) count(what string) (uint32, error) {
	n, err := r.u32(what)
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(len(r.b)) {
		return 0, r.truncated(fmt.Sprintf("%s: %d elements", what, n))
	}
	return n, nil
}

func (r *reader) name(what string) (string, error) {
	n, err := r.u32(what)
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n, what)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", r.errorf("%s: invalid UTF-8", what)
	}
	return string(b), nil
}

// sub returns a reader over the next n bytes and skips them.
func (r *reader) sub(n uint32, what string) (*reader, error) {
	off := r.off
	b, err := r.bytes(n, what)
	if err != nil {
		return nil, err
	}
	return &reader{b: b, off: off}, nil
}

// s32 reads a signed LEB128 of at most 32 bits.
func (r *reader) s32(what string) (int32, error) {
	var v int64
	for i := 0; i < 5; i++ {
		c, err := r.byte(what)
		if err != nil {
			return 0, err
		}
		v |= int64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if shift := 7 * (i + 1); shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			if v < -1<<31 || v > 1<<31-1 {
				return 0, r.errorf("%s: integer too large for s32", what)
			}
			return int32(v), nil
		}
	}
	return 0, r.errorf("%s: integer representation too long", what)
}

// section reads a section's id and size and returns the id and a reader
// over its content, which it skips.
func (r *reader) section() (byte, *reader, error) {
	id, err := r.byte("section id")
	if err != nil {
		return 0, nil, err
	}
	size, err := r.u32("section size")
	if err != nil {
		return 0, nil, err
	}
	s, err := r.sub(size, fmt.Sprintf("section %d", id))
	return id, s, err
}
