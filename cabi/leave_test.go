package cabi

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// sliceCtx is a context whose type is not comparable: == on two
// interfaces holding it panics.
type sliceCtx struct {
	context.Context
	s []int
}

type leaveKey struct{}

// TestLeavingReused: the context the host calls cabi_realloc and a
// post-return function with is kept per instance and kind, so that
// calling them again with the same context allocates nothing; another
// context gets a new one that passes its values through, a context of a
// type that is not comparable included; and MayLeaveCtx traps on each,
// naming where the call came from and marking the instance trapped, and
// lets any other context through.
func TestLeavingReused(t *testing.T) {
	ctx := context.Background()
	inst := NewInstance()
	realloc, post := inst.leaving(ctx, false), inst.leaving(ctx, true)
	if realloc == post {
		t.Fatal("cabi_realloc and post-return share a context")
	}
	if n := testing.AllocsPerRun(100, func() {
		if inst.leaving(ctx, false) != realloc || inst.leaving(ctx, true) != post {
			t.Fatal("the same context got a new leaving context")
		}
	}); n != 0 {
		t.Errorf("leaving with the same context allocates %v times, want 0", n)
	}

	other := context.WithValue(ctx, leaveKey{}, "v")
	l := inst.leaving(other, false)
	if l == realloc {
		t.Error("another context got the first one's leaving context")
	}
	if got := l.Value(leaveKey{}); got != "v" {
		t.Errorf("value through the leaving context = %v, want v", got)
	}
	s := sliceCtx{Context: ctx, s: []int{1}}
	if a, b := inst.leaving(s, true), inst.leaving(s, true); a == nil || b == nil {
		t.Error("no leaving context for a context that is not comparable")
	}

	MayLeaveCtx(ctx, "test#plain") // no trap
	if inst.Trapped() {
		t.Fatal("a plain context marked the instance trapped")
	}
	for _, c := range []struct {
		post bool
		want string
	}{{false, "from cabi_realloc"}, {true, "from post-return"}} {
		inst := NewInstance()
		ctx := inst.leaving(context.Background(), c.post)
		err := func() (err error) {
			defer func() { err, _ = recover().(error) }()
			MayLeaveCtx(ctx, "test#f")
			return nil
		}()
		var trap *Trap
		if !errors.As(err, &trap) || trap.Func != "test#f" || !strings.Contains(trap.Msg, c.want) {
			t.Errorf("MayLeaveCtx: %v, want a trap of test#f %s", err, c.want)
		}
		if !inst.Trapped() {
			t.Errorf("a call %s did not mark the instance trapped", c.want)
		}
	}
}
