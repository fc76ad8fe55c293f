package backends

import (
	"slices"
	"testing"
)

// TestDistinct: each identity once, at its first place, with lists short
// enough to scan and long enough to index; a list without repeats is
// returned as it is.
func TestDistinct(t *testing.T) {
	a, b, c := &Identity{}, &Identity{}, &Identity{}
	for _, tc := range []struct{ in, want []*Identity }{
		{nil, nil},
		{[]*Identity{a}, []*Identity{a}},
		{[]*Identity{a, b, c}, []*Identity{a, b, c}},
		{[]*Identity{b, a, b, nil, a, c, nil}, []*Identity{b, a, nil, c}},
		{slices.Repeat([]*Identity{c, a}, 1000), []*Identity{c, a}},
		{append(slices.Repeat([]*Identity{a}, scanIdentities), b), []*Identity{a, b}},
	} {
		if got := Distinct(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Distinct of %d identities = %v, want %v", len(tc.in), got, tc.want)
		}
	}
	in := []*Identity{a, b, c}
	if got := Distinct(in); &got[0] != &in[0] {
		t.Error("Distinct copied a list without repeats")
	}
}
