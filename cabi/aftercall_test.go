package cabi

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestAfterCall: what a host function registers with AfterCall runs at
// its call's End, after the results are stored, in order, once; also when
// the call faults; a release registered outside a call runs at the end
// of the next one; and registering a func value made once allocates
// nothing once the instance's slice has grown.
func TestAfterCall(t *testing.T) {
	ctx := context.Background()
	inst := NewInstance()
	l := NewLowered(Options{Instance: inst})
	var got []string
	first, second := func() { got = append(got, "first") }, func() { got = append(got, "second") }
	func() {
		call := Begin(ctx, l, "test#ok")
		c := &call
		defer c.End()
		inst.AfterCall(first)
		inst.AfterCall(second)
		got = append(got, "stored")
	}()
	if want := "stored first second"; join(got) != want {
		t.Errorf("ok call: %q, want %q", join(got), want)
	}

	got = nil
	err := catch(func() {
		call := Begin(ctx, l, "test#fault")
		c := &call
		defer c.End()
		inst.AfterCall(first)
		c.Trapf("fault")
	})
	var trap *Trap
	if !errors.As(err, &trap) || join(got) != "first" {
		t.Errorf("faulting call: %v, ran %q; want a trap and first", err, join(got))
	}

	got = nil
	inst2 := NewInstance()
	inst2.AfterCall(second)
	if len(got) != 0 {
		t.Fatalf("ran %q outside a call", join(got))
	}
	func() {
		call := Begin(ctx, NewLowered(Options{Instance: inst2}), "test#next")
		c := &call
		defer c.End()
	}()
	if join(got) != "second" {
		t.Errorf("next call ran %q, want second", join(got))
	}

	release := func() {}
	l2 := NewLowered(Options{Instance: inst2})
	if n := testing.AllocsPerRun(100, func() {
		call := Begin(ctx, l2, "test#allocs")
		c := &call
		defer c.End()
		inst2.AfterCall(release)
	}); n != 0 {
		t.Errorf("a call registering a release allocates %v times, want 0", n)
	}
}

func join(s []string) string { return strings.Join(s, " ") }
