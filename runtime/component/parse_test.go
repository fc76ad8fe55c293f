package component

import (
	"errors"
	"strings"
	"testing"
)

func TestParseExitComponent(t *testing.T) {
	c, err := Parse(exitComponent("0.2.12", "exit"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"TypeDef", "Import", "Alias", "Canon"}
	if len(c.Defs) != len(want) {
		t.Fatalf("%d definitions, want %d", len(c.Defs), len(want))
	}
	imp := c.Defs[1].(Import)
	if imp.Name != "wasi:cli/exit@0.2.12" || imp.Desc.Sort != SortInstance {
		t.Fatalf("import = %+v", imp)
	}
	if cn := c.Defs[3].(Canon); cn.Kind != CanonLower || cn.Func != 0 {
		t.Fatalf("canon = %+v", cn)
	}
}

// TestParseErrors checks that bad and unsupported input is an error naming
// the problem.
func TestParseErrors(t *testing.T) {
	canon := func(b ...byte) []byte { return comp(section(secCanon, vec(b))) }
	typ := func(b ...byte) []byte { return comp(section(secType, vec(b))) }
	for _, tc := range []struct {
		name, want string
		b          []byte
		feature    bool
	}{
		{"empty", "bad magic", nil, false},
		{"core module", "core module, not a component", []byte{0, 0x61, 0x73, 0x6d, 1, 0, 0, 0}, false},
		{"old version", "unsupported binary version", []byte{0, 0x61, 0x73, 0x6d, 0x0a, 0, 1, 0}, false},
		{"truncated section", "unexpected end of input", comp([]byte{secType, 10, 1}), false},
		{"unknown section", "unknown section id 13", comp(section(13, nil)), false},
		{"leftover bytes", "left over", comp(section(secType, []byte{0, 0})), false},
		{"task.return", "not supported: component-model async (canon task.return)", canon(0x09), true},
		{"stream.new", "not supported: component-model async (canon stream.new)", canon(0x0e, 0), true},
		{"future.read", "not supported: component-model async (canon future.read)", canon(0x16, 0), true},
		{"error-context.new", "not supported: component-model async (canon error-context.new)", canon(0x1c), true},
		{"async option", "not supported: component-model async (the async option of canon lower)", canon(0x01, 0x00, 0x00, 0x01, 0x06), true},
		{"utf16", "not supported: string-encoding=utf16", canon(0x01, 0x00, 0x00, 0x01, 0x01), true},
		{"latin1", "not supported: string-encoding=latin1+utf16", canon(0x00, 0x00, 0x00, 0x01, 0x02, 0x00), true},
		{"stream type", "not supported: stream<T>", typ(0x66, 0x00), true},
		{"future type", "not supported: future<T>", typ(0x65, 0x00), true},
		{"error-context type", "not supported: error-context", typ(0x64), true},
		{"async func type", "not supported: component-model async (async function type)", typ(0x43), true},
		{"value section", "not supported: value definitions", comp(section(secValue, vec())), true},
		{"bad prim", "bad primitive value type", typ(0x40, 0x01, 0x01, 'x', 0x50, 0x01, 0x00), false},
		{"huge count", "unexpected end of input", comp(section(secType, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})), false},
		{"long leb", "integer too large for u32", comp(section(secType, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00})), false},
		{"bad utf8 name", "invalid UTF-8", comp(section(secImport, vec(cat([]byte{0x00, 0x01, 0xff}, []byte{0x01, 0x00})))), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tc.want)
			}
			var ns *NotSupportedError
			if errors.As(err, &ns) != tc.feature {
				t.Fatalf("errors.As(%v, *NotSupportedError) = %v, want %v", err, !tc.feature, tc.feature)
			}
		})
	}
}

// TestParseTruncated checks that every prefix of a component that cuts a
// section is an error, never a panic. (A prefix made of whole sections is
// a smaller valid component.)
func TestParseTruncated(t *testing.T) {
	b := exitComponent("0.2.12", "exit")
	boundary := map[int]bool{8: true}
	for off := 8; off < len(b); {
		r := &reader{b: b[off+1:]}
		size, err := r.u32("size")
		if err != nil {
			t.Fatal(err)
		}
		off = len(b) - len(r.b) + int(size)
		boundary[off] = true
	}
	for n := 0; n < len(b); n++ {
		_, err := Parse(b[:n])
		if (err == nil) != boundary[n] {
			t.Fatalf("Parse of the first %d of %d bytes: %v", n, len(b), err)
		}
	}
}

// TestParseDepth checks that deeply nested types are refused, not a stack
// overflow.
func TestParseDepth(t *testing.T) {
	var inner []byte = []byte{0x42, 0x00}
	for range 100 {
		inner = cat([]byte{0x42}, vec(cat([]byte{0x01}, inner)))
	}
	_, err := Parse(comp(section(secType, vec(inner))))
	if err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Fatalf("Parse = %v, want a nesting error", err)
	}
}
