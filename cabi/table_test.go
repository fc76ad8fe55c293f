package cabi

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/sys"
)

type res struct {
	name    string
	parent  Resource
	dropped *[]string
}

func (r *res) Drop() { *r.dropped = append(*r.dropped, r.name) }

type child struct{ res }

func (c *child) ResourceParent() Resource { return c.parent }

var (
	typA = NewResourceType("test:a/a.a")
	typB = NewResourceType("test:a/a.b")
)

func mustInsert(t *testing.T, tab *Table, typ *ResourceType, v Resource) uint32 {
	t.Helper()
	h, err := tab.Insert(typ, v)
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	return h
}

func TestTableHandles(t *testing.T) {
	var dropped []string
	tab := new(Table)
	a := &res{name: "a", dropped: &dropped}
	h := mustInsert(t, tab, typA, a)
	if h == 0 {
		t.Fatal("handle 0 is invalid")
	}
	if v, err := tab.Get(h, typA); err != nil || v != a {
		t.Fatalf("Get = %v, %v", v, err)
	}
	for _, tt := range []struct {
		h    uint32
		typ  *ResourceType
		want string
	}{
		{0, typA, "unknown handle 0"},
		{99, typA, "unknown handle 99"},
		{h, typB, "is a test:a/a.a, want test:a/a.b"},
	} {
		if _, err := tab.Get(tt.h, tt.typ); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Get(%d, %v) = %v, want %q", tt.h, tt.typ, err, tt.want)
		}
	}
	if v, err := tab.Remove(h, typA); err != nil || v != a {
		t.Fatalf("Remove = %v, %v", v, err)
	}
	if _, err := tab.Get(h, typA); err == nil || !strings.Contains(err.Error(), "was dropped") {
		t.Errorf("Get after drop = %v", err)
	}
	if _, err := tab.Remove(h, typA); err == nil || !strings.Contains(err.Error(), "double drop of handle") {
		t.Errorf("second Remove = %v", err)
	}
	// Freed handles are reused.
	b := &res{name: "b", dropped: &dropped}
	if h2 := mustInsert(t, tab, typA, b); h2 != h {
		t.Errorf("Insert after drop = %d, want reused %d", h2, h)
	}
	if v, err := tab.Take(h, typA); err != nil || v != b {
		t.Fatalf("Take = %v, %v", v, err)
	}
	if _, err := tab.Get(h, typA); err == nil || !strings.Contains(err.Error(), "was moved out") {
		t.Errorf("Get after Take = %v", err)
	}
	if tab.Len() != 0 {
		t.Errorf("Len = %d", tab.Len())
	}
}

func TestTableChildren(t *testing.T) {
	var dropped []string
	tab := new(Table)
	p := &res{name: "parent", dropped: &dropped}
	ph := mustInsert(t, tab, typA, p)
	c1 := &child{res{name: "child1", parent: p, dropped: &dropped}}
	c2 := &child{res{name: "child2", parent: p, dropped: &dropped}}
	c1h := mustInsert(t, tab, typB, c1)
	mustInsert(t, tab, typB, c2)
	if _, err := tab.Remove(ph, typA); err == nil || !strings.Contains(err.Error(), "has 2 live children") {
		t.Fatalf("Remove of a parent = %v", err)
	}
	if _, err := tab.Remove(c1h, typB); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Remove(ph, typA); err == nil || !strings.Contains(err.Error(), "has 1 live children") {
		t.Fatalf("Remove of a parent = %v", err)
	}
	// Moving the parent out detaches the remaining child.
	if _, err := tab.Take(ph, typA); err != nil {
		t.Fatal(err)
	}
	if tab.Len() != 1 {
		t.Errorf("Len = %d, want 1", tab.Len())
	}
}

func TestCloseDropsChildrenFirst(t *testing.T) {
	var dropped []string
	inst := NewInstance()
	tab := inst.Table()
	p := &res{name: "parent", dropped: &dropped}
	c := &child{res{name: "child", parent: p, dropped: &dropped}}
	g := &child{res{name: "grandchild", parent: c, dropped: &dropped}}
	other := &res{name: "other", dropped: &dropped}
	// Insert the child's handle below its parent's by reusing a freed slot.
	tmp := mustInsert(t, tab, typA, &res{name: "tmp", dropped: &dropped})
	mustInsert(t, tab, typA, p)
	tab.Remove(tmp, typA)
	mustInsert(t, tab, typB, c)
	mustInsert(t, tab, typB, g)
	mustInsert(t, tab, typA, other)
	if err := inst.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, n := range dropped {
		pos[n] = i
	}
	if len(dropped) != 4 || pos["grandchild"] > pos["child"] || pos["child"] > pos["parent"] {
		t.Errorf("drop order %v: children must go before parents", dropped)
	}
	if err := inst.Close(context.Background()); err != nil || len(dropped) != 4 {
		t.Errorf("second Close: %v, drops %v", err, dropped)
	}
}

type panicky struct{}

func (panicky) Drop() { panic("boom") }

func TestCloseReportsDropPanics(t *testing.T) {
	var dropped []string
	inst := NewInstance()
	mustInsert(t, inst.Table(), typA, &panicky{})
	mustInsert(t, inst.Table(), typA, &res{name: "ok", dropped: &dropped})
	err := inst.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Close = %v, want the drop panic", err)
	}
	if len(dropped) != 1 {
		t.Errorf("the other resource was not dropped")
	}
}

func TestTrapRecovery(t *testing.T) {
	inst := NewInstance()
	ctx := WithInstance(context.Background(), inst)
	func() {
		defer func() {
			r := recover()
			tr, ok := r.(*Trap)
			if !ok || tr.Error() != "f: host panic: bad" {
				t.Errorf("recovered %#v", r)
			}
		}()
		call := BeginScalar(ctx, "f")
		defer call.End()
		panic("bad")
	}()
	if !inst.Trapped() {
		t.Error("a trap in a scalar call did not mark the instance")
	}
	call := Call{Func: "g"}
	for _, tt := range []struct {
		f    func()
		want string
	}{
		{func() { call.Char(0xD800) }, "invalid char 0xd800"},
		{func() { call.Char(0x110000) }, "invalid char 0x110000"},
		{func() { call.Disc(2, 2) }, "bad discriminant 2 for 2 cases"},
		{func() { call.U32(0) }, "out-of-bounds memory access"},
		{func() { call.Check(3, 4, 4) }, "misaligned pointer 0x3"},
		{func() { call.CheckList(0, 1<<31, 4, 4) }, "out-of-bounds"},
	} {
		func() {
			defer func() {
				tr, ok := recover().(*Trap)
				if !ok || tr.Func != "g" || !strings.Contains(tr.Msg, tt.want) {
					t.Errorf("trap %v, want %q", tr, tt.want)
				}
			}()
			tt.f()
		}()
	}
	if got := call.Char('é'); got != 'é' {
		t.Errorf("Char = %q", got)
	}
}

func TestOptionResult(t *testing.T) {
	if v, ok := Some(3).Get(); !ok || v != 3 {
		t.Error("Some")
	}
	if None[int]().IsSome() {
		t.Error("None")
	}
	r := Err[int, string]("e")
	if !r.IsErr() || r.ErrValue() != "e" || r.IsOK() {
		t.Error("Err")
	}
	if v, _, isErr := OK[int, string](4).Get(); isErr || v != 4 {
		t.Error("OK")
	}
}

// An exit requested by the guest (wasi:cli/exit) passes through the glue
// unchanged: it is not a fault and does not mark the instance trapped.
func TestExitIsNotATrap(t *testing.T) {
	inst := NewInstance()
	ctx := WithInstance(context.Background(), inst)
	for name, f := range map[string]func(){
		"scalar": func() {
			call := BeginScalar(ctx, "exit")
			defer call.End()
			panic(sys.NewExitError(3))
		},
		"rethrow": func() {
			defer func() { Rethrow(ctx, "exit", recover()) }()
			panic(sys.NewExitError(3))
		},
	} {
		func() {
			defer func() {
				exit, ok := recover().(*sys.ExitError)
				if !ok || exit.ExitCode() != 3 {
					t.Errorf("%s: recovered %v, want exit code 3", name, exit)
				}
			}()
			f()
		}()
	}
	if inst.Trapped() {
		t.Error("an exit marked the instance trapped")
	}
}

// TestTableLend checks lent handles: usable, never moved, never dropped by
// Remove or drain, and taken back only by Unlend of the same value.
func TestTableLend(t *testing.T) {
	var dropped []string
	tab := new(Table)
	a := &res{name: "a", dropped: &dropped}
	h, err := tab.Lend(typA, a)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := tab.Get(h, typA); err != nil || v != a {
		t.Fatalf("Get of a lent handle = %v, %v", v, err)
	}
	if _, err := tab.Take(h, typA); err == nil || !strings.Contains(err.Error(), "lent") {
		t.Errorf("Take of a lent handle: %v, want refused", err)
	}
	if _, err := tab.GetOwned(h, typA); err == nil {
		t.Error("GetOwned of a lent handle succeeded")
	}
	if tab.Unlend(h, &res{name: "other", dropped: &dropped}) {
		t.Error("Unlend of another value succeeded")
	}
	if v, err := tab.Remove(h, typA); err != nil || v != nil {
		t.Errorf("Remove of a lent handle = %v, %v; want nil, nil (the host keeps it)", v, err)
	}
	if tab.Unlend(h, a) {
		t.Error("Unlend after the guest ended the borrow succeeded")
	}
	h2, _ := tab.Lend(typA, a)
	own := mustInsert(t, tab, typA, a) // the same value owned by the guest too
	if !tab.Unlend(h2, a) || tab.Len() != 1 {
		t.Errorf("Unlend: %d handles left, want the own one", tab.Len())
	}
	if _, err := tab.Lend(typA, a); err != nil {
		t.Fatal(err)
	}
	if got := tab.drain(); len(got) != 1 || got[0] != a {
		t.Errorf("drain = %v, want only the owned handle %d's value", got, own)
	}
	if len(dropped) != 0 {
		t.Errorf("dropped %v", dropped)
	}
}

// TestTableTypeOfHolds: TypeOf names a live handle's type; Holds finds
// values the guest owns, not lent ones.
func TestTableTypeOfHolds(t *testing.T) {
	var dropped []string
	tab := new(Table)
	a, b := &res{name: "a", dropped: &dropped}, &res{name: "b", dropped: &dropped}
	h := mustInsert(t, tab, typB, a)
	if typ, err := tab.TypeOf(h); err != nil || typ != typB {
		t.Errorf("TypeOf = %v, %v", typ, err)
	}
	if _, err := tab.TypeOf(h + 1); err == nil {
		t.Error("TypeOf of an unknown handle succeeded")
	}
	lent, _ := tab.Lend(typA, b)
	if !tab.Holds(a) || tab.Holds(b) {
		t.Errorf("Holds(owned) = %v, Holds(lent) = %v", tab.Holds(a), tab.Holds(b))
	}
	tab.Unlend(lent, b)
	tab.Take(h, typB)
	if tab.Holds(a) {
		t.Error("Holds after Take")
	}
}

// TestTableRetype: the live handles of one type, and only those, take the
// other type; a dropped one is not counted.
func TestTableRetype(t *testing.T) {
	var dropped []string
	tab := new(Table)
	h1 := mustInsert(t, tab, typA, &res{name: "a1", dropped: &dropped})
	h2 := mustInsert(t, tab, typA, &res{name: "a2", dropped: &dropped})
	hb := mustInsert(t, tab, typB, &res{name: "b", dropped: &dropped})
	if _, err := tab.Remove(h2, typA); err != nil {
		t.Fatal(err)
	}
	typC := NewResourceType("c")
	if n := tab.Retype(typA, typC); n != 1 {
		t.Fatalf("Retype = %d, want 1", n)
	}
	if _, err := tab.Get(h1, typA); err == nil {
		t.Error("the retyped handle is still found under its old type")
	}
	if _, err := tab.Get(h1, typC); err != nil {
		t.Errorf("the retyped handle under its new type: %v", err)
	}
	if typ, err := tab.TypeOf(hb); err != nil || typ != typB {
		t.Errorf("the other type's handle: %v, %v", typ, err)
	}
}
