package cabi

import "testing"

func TestReps(t *testing.T) {
	var r Reps[string]
	a, b := r.Add("a"), r.Add("b")
	if a == 0 || b == a || r.Get(a) != "a" || r.Get(b) != "b" {
		t.Fatalf("reps %d %d: %q %q", a, b, r.Get(a), r.Get(b))
	}
	if v := r.Remove(a); v != "a" {
		t.Errorf("Remove = %q", v)
	}
	for _, bad := range []uint32{0, a, 99} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Get(%d) did not panic", bad)
				}
			}()
			r.Get(bad)
		}()
	}
	if c := r.Add("c"); c != a || r.Get(c) != "c" {
		t.Errorf("a freed rep is not reused: %d", c)
	}
}
