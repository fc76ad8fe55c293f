package abitest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/tally/test/kitchen/tally"
	"github.com/wasitls/wasitls/runtime/component"
)

// tallyComponent builds testdata/tallycomp/tally.c into a component and
// binds the generated host callers of test:kitchen/tally to its export
// through Instance.Guest: the component's own resource counter is bound to
// tally.CounterType.
func tallyComponent(t *testing.T) (context.Context, *cabi.Instance, *tally.Exports) {
	ctx, ci, _, x := tallyInstance(t)
	return ctx, ci, x
}

func tallyInstance(t *testing.T) (context.Context, *cabi.Instance, *component.Instance, *tally.Exports) {
	t.Helper()
	inst := cComponent(t, "./testdata/tallycomp/tally.c", "./testdata/tallycomp/tally.wit", "tally-component")
	g, err := inst.Component().Guest(tally.ModuleName + "@" + tally.Version)
	if err != nil {
		t.Fatal(err)
	}
	x, err := tally.Bind(inst.Cabi(), g, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tally.Bind(inst.Cabi(), g, ""); err != nil {
		t.Fatalf("binding the same generated callers again: %v", err)
	}
	b := cabi.NewBinder(g, tally.ModuleName, tally.Version)
	b.Dtor("counter", cabi.NewResourceType("other"))
	b.Dtor("gauge", cabi.NewResourceType("gauge"))
	if err := b.Err(); err == nil || !strings.Contains(err.Error(), "counter of test:kitchen/tally@0.1.0 is bound to test:kitchen/tally.counter already") ||
		!strings.Contains(err.Error(), "exports no resource gauge") {
		t.Fatalf("binding counter to another type and a resource not exported: %v, want both refused", err)
	}
	for name, want := range map[string]string{
		"[constructor]counter": "func(start: u32) -> own<counter>",
		"[method]counter.same": "func(self: borrow<counter>, other: borrow<counter>) -> bool",
		"split":                "func(c: borrow<counter>, n: u32) -> list<own<counter>>",
		"absorb":               "func(c: own<counter>) -> u32",
	} {
		if got, ok := g.(cabi.TypedGuest).ExportType("test:kitchen/tally@0.1.0#" + name); !ok || got != want {
			t.Errorf("type of %s = %q, %v; want %q", name, got, ok, want)
		}
	}
	return inst.Context(), inst.Cabi(), inst.Component(), x
}

// tallyDestroyed returns the component's count of destroyed counters.
func tallyDestroyed(t *testing.T, ctx context.Context, x *tally.Exports) uint32 {
	t.Helper()
	n, err := x.Destroyed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGeneratedCallerComponentResource calls a C component's own exported
// resource through the generated host callers: the constructor's and a
// method's own<counter> and the counters of a list<counter> become
// generated handles, methods get the rep
// through the lent handle (self and a borrow<counter> argument), an
// own<counter> argument moves into the component, which reads and drops it
// with its canon resource.rep and resource.drop (the destructor runs), and
// Drop runs the destructor. No handle is left in the table.
func TestGeneratedCallerComponentResource(t *testing.T) {
	ctx, ci, x := tallyComponent(t)
	c, err := x.NewCounter(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if ci.Table().Len() != 0 {
		t.Fatalf("%d handles in the table after the constructor, want 0 (the host holds the counter)", ci.Table().Len())
	}
	if n, err := c.Add(ctx, 3); err != nil || n != 8 {
		t.Fatalf("add = %d, %v; want 8", n, err)
	}
	tw, err := c.Twin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tw.Rep() == c.Rep() {
		t.Fatalf("twin has the rep %d of its original", tw.Rep())
	}
	if same, err := c.Same(ctx, tw); err != nil || !same {
		t.Fatalf("same(twin) = %v, %v; want true", same, err)
	}
	if n, err := tw.Add(ctx, 1); err != nil || n != 9 {
		t.Fatalf("twin add = %d, %v; want 9", n, err)
	}
	if same, err := c.Same(ctx, tw); err != nil || same {
		t.Fatalf("same(twin) after add = %v, %v; want false", same, err)
	}
	parts, err := x.Split(ctx, tw, 3)
	if err != nil || len(parts) != 3 {
		t.Fatalf("split = %d counters, %v; want 3", len(parts), err)
	}
	if ci.Table().Len() != 0 {
		t.Fatalf("%d handles in the table after split, want 0", ci.Table().Len())
	}
	for i, p := range parts {
		if n, err := p.Add(ctx, uint32(i)); err != nil || n != 9+uint32(i) {
			t.Fatalf("part %d add = %d, %v; want %d", i, n, err, 9+i)
		}
		if err := p.Drop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := tallyDestroyed(t, ctx, x); n != 3 {
		t.Fatalf("destroyed after dropping the parts = %d, want 3", n)
	}
	if n, err := x.Absorb(ctx, tw); err != nil || n != 9 {
		t.Fatalf("absorb = %d, %v; want 9", n, err)
	}
	if !tw.Spent() {
		t.Error("an absorbed counter is not spent")
	}
	if n := tallyDestroyed(t, ctx, x); n != 4 {
		t.Fatalf("destroyed after absorb = %d, want 4", n)
	}
	if _, err := tw.Add(ctx, 1); !errors.Is(err, cabi.ErrSpent) || !strings.Contains(err.Error(), "#[method]counter.add") {
		t.Fatalf("add on a moved counter = %v, want cabi.ErrSpent naming the function", err)
	}
	if err := c.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := tallyDestroyed(t, ctx, x); n != 5 {
		t.Fatalf("destroyed after Drop = %d, want 5", n)
	}
	if _, err := c.Add(ctx, 1); !errors.Is(err, cabi.ErrSpent) || !strings.Contains(err.Error(), "test:kitchen/tally@0.1.0#[method]counter.add") {
		t.Fatalf("add after drop = %v, want cabi.ErrSpent naming the function", err)
	}
	if err := c.Drop(ctx); !errors.Is(err, cabi.ErrSpent) || !strings.Contains(err.Error(), "#[dtor]counter") {
		t.Fatalf("second drop = %v, want cabi.ErrSpent naming the destructor", err)
	}
	if _, err := x.Absorb(ctx, c); !errors.Is(err, cabi.ErrSpent) {
		t.Fatalf("absorb of a dropped counter = %v, want cabi.ErrSpent", err)
	}
	if ci.Trapped() || ci.Table().Len() != 0 {
		t.Fatalf("trapped %v, %d handles in the table; want false and 0", ci.Trapped(), ci.Table().Len())
	}
}

// TestGeneratedCallerComponentResourceBadHandle: the component returns an
// own<counter> handle that is not in its table. The call traps naming the
// function and the handle; the instance is trapped.
func TestGeneratedCallerComponentResourceBadHandle(t *testing.T) {
	ctx, ci, x := tallyComponent(t)
	_, err := x.BadHandle(ctx)
	var trap *cabi.Trap
	if !errors.As(err, &trap) || trap.Func != "test:kitchen/tally@0.1.0#bad-handle" || !strings.Contains(err.Error(), "77") {
		t.Fatalf("bad-handle = %v, want a trap naming the function and handle 77", err)
	}
	if !ci.Trapped() || ci.Table().Len() != 0 {
		t.Fatalf("trapped %v, %d handles in the table; want true and 0", ci.Trapped(), ci.Table().Len())
	}
}

// TestGeneratedCallerComponentResourceDtorTrap: the destructor of a
// counter at 666 traps, when the host drops it and when the component
// drops one the host moved into it. Either way the error names the
// destructor, the handle is spent and the table empty.
func TestGeneratedCallerComponentResourceDtorTrap(t *testing.T) {
	t.Run("Drop", func(t *testing.T) {
		ctx, ci, x := tallyComponent(t)
		c, err := x.NewCounter(ctx, 666)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Drop(ctx)
		var trap *cabi.Trap
		if !errors.As(err, &trap) || trap.Func != "test:kitchen/tally@0.1.0#[dtor]counter" {
			t.Fatalf("drop = %v, want a trap naming the destructor", err)
		}
		if !c.Spent() || !ci.Trapped() || ci.Table().Len() != 0 {
			t.Fatalf("spent %v, trapped %v, %d handles; want true, true, 0", c.Spent(), ci.Trapped(), ci.Table().Len())
		}
		if _, err := x.Destroyed(ctx); err == nil || !strings.Contains(err.Error(), "trapped") {
			t.Fatalf("a call after the trap = %v, want a refusal", err)
		}
	})
	t.Run("absorb", func(t *testing.T) {
		ctx, ci, x := tallyComponent(t)
		c, err := x.NewCounter(ctx, 666)
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.Absorb(ctx, c)
		var trap *cabi.Trap
		if !errors.As(err, &trap) || trap.Func != "test:kitchen/tally@0.1.0#absorb" || !strings.Contains(err.Error(), "destructor of test:kitchen/tally.counter") {
			t.Fatalf("absorb = %v, want a trap naming absorb and the destructor", err)
		}
		if !c.Spent() || !ci.Trapped() || ci.Table().Len() != 0 {
			t.Fatalf("spent %v, trapped %v, %d handles; want true, true, 0", c.Spent(), ci.Trapped(), ci.Table().Len())
		}
	})
}

// TestGeneratedCallerComponentResourceFuncCall: once the generated callers
// are bound, Func.Call and *component.Handle go on working on the same
// instance under the generated type: a Handle passed as own<counter> is
// dropped by the component, a Handle's Drop runs the destructor.
func TestGeneratedCallerComponentResourceFuncCall(t *testing.T) {
	ctx, ci, inst, x := tallyInstance(t)
	iface := tally.ModuleName + "@" + tally.Version
	ctor, err := inst.Func(iface, "[constructor]counter")
	if err != nil {
		t.Fatal(err)
	}
	absorb, err := inst.Func(iface, "absorb")
	if err != nil {
		t.Fatal(err)
	}
	v, err := ctor.Call(ctx, uint32(4))
	if err != nil {
		t.Fatal(err)
	}
	h, ok := v.(*component.Handle)
	if !ok {
		t.Fatalf("the constructor through Func.Call returned a %T, want a *component.Handle", v)
	}
	if n, err := absorb.Call(ctx, h); err != nil || n != uint32(4) {
		t.Fatalf("absorb through Func.Call = %v, %v; want 4", n, err)
	}
	v, err = ctor.Call(ctx, uint32(6))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.(*component.Handle).Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := tallyDestroyed(t, ctx, x); n != 2 {
		t.Fatalf("destroyed = %d, want 2", n)
	}
	if ci.Trapped() || ci.Table().Len() != 0 {
		t.Fatalf("trapped %v, %d handles in the table; want false and 0", ci.Trapped(), ci.Table().Len())
	}
}
