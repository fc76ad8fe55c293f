package generator

import (
	"path/filepath"
	"testing"

	"go.bytecodealliance.org/wit"
)

// TestABIAgainstWit checks the generator's own sizes, alignments and
// flattenings against those of the wit package for every named type of
// WASI 0.2.8, wasi:tls and the test WIT.
func TestABIAgainstWit(t *testing.T) {
	for _, dir := range []string{filepath.Join(repoRoot(t), "wit"), "testdata/kitchen"} {
		res := load(t, dir)
		m := &Model{decls: map[*wit.TypeDef]*Decl{}, ifaces: map[*wit.Interface]*Iface{}}
		n := 0
		for _, td := range res.TypeDefs {
			if td.Name == nil {
				continue
			}
			if _, ok := td.Owner.(*wit.Interface); !ok {
				continue
			}
			d, err := m.decl(td)
			if err != nil {
				t.Fatal(err)
			}
			if rootResource(d) != nil {
				continue // a resource, or a use of one: not a value type
			}
			typ := Type(&Ref{d})
			n++
			if got, want := size(typ), uint32(td.Size()); got != want {
				t.Errorf("%s.%s: size %d, wit says %d", d.Iface.ModuleName, d.Name, got, want)
			}
			if got, want := alignment(typ), uint32(td.Align()); got != want {
				t.Errorf("%s.%s: align %d, wit says %d", d.Iface.ModuleName, d.Name, got, want)
			}
			var want []Core
			for _, f := range td.Flat() {
				switch f.(type) {
				case wit.S64, wit.U64:
					want = append(want, I64)
				case wit.F32:
					want = append(want, CF32)
				case wit.F64:
					want = append(want, CF64)
				default:
					want = append(want, I32)
				}
			}
			got := flat(typ)
			if len(got) != len(want) {
				t.Errorf("%s.%s: flat %v, wit says %v", d.Iface.ModuleName, d.Name, got, want)
				continue
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s.%s: flat %v, wit says %v", d.Iface.ModuleName, d.Name, got, want)
					break
				}
			}
		}
		if n < 10 {
			t.Errorf("%s: only %d types checked", dir, n)
		}
	}
}

// TestABIByHand checks layouts worked out by hand from CanonicalABI.md.
func TestABIByHand(t *testing.T) {
	str := Type(String)
	tests := []struct {
		name        string
		t           Type
		size, align uint32
		flat        []Core
	}{
		{"option<string>", &Option{Elem: str}, 12, 4, []Core{I32, I32, I32}},
		{"result<u64, string>", &Result{OK: U64, Err: str}, 16, 8, []Core{I32, I64, I32}},
		{"result", &Result{}, 1, 1, []Core{I32}},
		{"tuple<u8, s64>", &Tuple{Elems: []Type{U8, S64}}, 16, 8, []Core{I32, I64}},
		{"option<f32>", &Option{Elem: F32}, 8, 4, []Core{I32, CF32}},
		{"result<f32, u32>", &Result{OK: F32, Err: U32}, 8, 4, []Core{I32, I32}},
		{"result<f64, f32>", &Result{OK: F64, Err: F32}, 16, 8, []Core{I32, I64}},
		{"list<u8>", &List{Elem: U8}, 8, 4, []Core{I32, I32}},
		{"char", Char, 4, 4, []Core{I32}},
	}
	for _, tt := range tests {
		if got := size(tt.t); got != tt.size {
			t.Errorf("%s: size %d, want %d", tt.name, got, tt.size)
		}
		if got := alignment(tt.t); got != tt.align {
			t.Errorf("%s: align %d, want %d", tt.name, got, tt.align)
		}
		got := flat(tt.t)
		if len(got) != len(tt.flat) {
			t.Errorf("%s: flat %v, want %v", tt.name, got, tt.flat)
			continue
		}
		for i := range got {
			if got[i] != tt.flat[i] {
				t.Errorf("%s: flat %v, want %v", tt.name, got, tt.flat)
				break
			}
		}
	}
}
