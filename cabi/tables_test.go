package cabi

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// The tables of one instance are separate index spaces under one limit:
// a handle of one is unknown in another, a lowered function works in the
// table its options name, the limit counts every table's handles and its
// error says what all of them hold, and Close drops each resource once,
// the nested tables' (last made first) before the instance's own.
func TestInstanceTables(t *testing.T) {
	var dropped []string
	inst := NewInstance()
	root, a, b := inst.Table(), inst.NewTable(), inst.NewTable()
	root.SetLimit(4, "Limits.Handles")
	if a.Limit() != 4 || b.Limit() != 4 {
		t.Fatalf("limits %d and %d, want the instance's 4", a.Limit(), b.Limit())
	}
	hr := mustInsert(t, root, typA, &res{name: "root", dropped: &dropped})
	ha := mustInsert(t, a, typA, &res{name: "a", dropped: &dropped})
	if hr != 1 || ha != 1 {
		t.Fatalf("first handles %d and %d, want 1 in each table", hr, ha)
	}
	if _, err := b.Get(1, typA); err == nil || !strings.Contains(err.Error(), "unknown handle 1") {
		t.Fatalf("b.Get(1) = %v, want unknown handle 1", err)
	}

	// A lowered function with Table b drops only in b.
	call := Begin(context.Background(), NewLowered(Options{Instance: inst, Table: b}), "test:a/a#[resource-drop]a")
	func() {
		defer func() {
			if tr, ok := recover().(*Trap); !ok || !strings.Contains(tr.Msg, "unknown handle 1") {
				t.Errorf("drop of 1 through b: trap %v, want unknown handle 1", tr)
			}
		}()
		call.Drop(1, typA)
	}()
	if len(dropped) != 0 || inst.Handles() != 2 {
		t.Fatalf("dropped %v, %d handles; want nothing and 2", dropped, inst.Handles())
	}

	v := &res{name: "b", dropped: &dropped}
	mustInsert(t, b, typB, v)
	if !inst.Holds(v) || !b.Holds(v) || root.Holds(v) {
		t.Errorf("Holds: instance %v, b %v, root %v; want true, true, false", inst.Holds(v), b.Holds(v), root.Holds(v))
	}
	mustInsert(t, b, typB, &res{name: "b2", dropped: &dropped})
	_, err := root.Insert(typA, &res{name: "over", dropped: &dropped})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != 4 || !strings.Contains(err.Error(), "holds 4 handles (2 test:a/a.a, 2 test:a/a.b)") || !strings.Contains(err.Error(), "Limits.Handles") {
		t.Fatalf("Insert past the limit of all tables = %v", err)
	}
	if root.Len() != 1 || a.Len() != 1 || b.Len() != 2 || inst.Handles() != 4 {
		t.Fatalf("Len %d, %d, %d, Handles %d; want 1, 1, 2, 4", root.Len(), a.Len(), b.Len(), inst.Handles())
	}
	if n := inst.Retype(typB, typA); n != 2 {
		t.Errorf("Retype = %d, want 2", n)
	}

	if err := inst.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"b2", "b", "a", "root"}; !slices.Equal(dropped, want) {
		t.Errorf("Close dropped %v, want %v", dropped, want)
	}
	if inst.Handles() != 0 {
		t.Errorf("%d handles after Close", inst.Handles())
	}
	if err := inst.Close(context.Background()); err != nil || len(dropped) != 4 {
		t.Errorf("second Close: %v, dropped %v", err, dropped)
	}
	late := inst.NewTable()
	if _, err := late.Insert(typA, &res{name: "late", dropped: &dropped}); err == nil {
		t.Error("a table made after Close accepted a handle")
	}
	if _, err := a.Insert(typA, &res{name: "late", dropped: &dropped}); err == nil {
		t.Error("a nested table accepted a handle after Close")
	}
}
