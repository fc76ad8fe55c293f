package cabi

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Past its limit the table refuses a handle with an error naming the
// setting; the call lowering it traps naming the function, and drops the
// resource the guest will never see.
func TestTableLimit(t *testing.T) {
	var dropped []string
	inst := NewInstance()
	tab := inst.Table()
	tab.SetLimit(3, "Limits.Handles")
	var hs []uint32
	for i := range 3 {
		hs = append(hs, mustInsert(t, tab, typA, &res{name: string(rune('a' + i)), dropped: &dropped}))
	}
	_, err := tab.Insert(typA, &res{name: "over", dropped: &dropped})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != 3 || !strings.Contains(err.Error(), "Limits.Handles") || !strings.Contains(err.Error(), "holds 3 handles (3 test:a/a.a), the most allowed") {
		t.Fatalf("Insert past the limit = %v, want a LimitError naming Limits.Handles and what is held", err)
	}
	// A freed handle makes room again.
	if _, err := tab.Remove(hs[0], typA); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, tab, typA, &res{name: "again", dropped: &dropped})

	call := Call{Func: "wasi:test/f#g", inst: inst, table: tab}
	func() {
		defer func() {
			tr, ok := recover().(*Trap)
			if !ok || tr.Func != "wasi:test/f#g" || !strings.Contains(tr.Msg, "resource table limit reached") || !strings.Contains(tr.Msg, "Limits.Handles") {
				t.Errorf("trap %v, want the limit named", tr)
			}
		}()
		call.Own(&res{name: "refused", dropped: &dropped}, typA)
	}()
	if len(dropped) != 1 || dropped[0] != "refused" {
		t.Errorf("dropped %v, want the refused resource dropped", dropped)
	}
	if tab.Len() != 3 {
		t.Errorf("Len = %d, want 3", tab.Len())
	}
}

// After Close a host call still running cannot leave a resource in the
// table: Insert refuses it.
func TestTableClosedRefusesInsert(t *testing.T) {
	var dropped []string
	inst := NewInstance()
	mustInsert(t, inst.Table(), typA, &res{name: "a", dropped: &dropped})
	if err := inst.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Table().Insert(typA, &res{name: "late", dropped: &dropped}); err == nil {
		t.Fatal("Insert after Close succeeded")
	}
	if len(dropped) != 1 {
		t.Errorf("dropped %v", dropped)
	}
}

// Releasing a parent detaches only its own children, whatever else the
// table holds, and the sibling lists stay consistent through removals in
// any order.
func TestTableChildLists(t *testing.T) {
	var dropped []string
	tab := new(Table)
	p := &res{name: "p", dropped: &dropped}
	q := &res{name: "q", dropped: &dropped}
	ph := mustInsert(t, tab, typA, p)
	qh := mustInsert(t, tab, typA, q)
	var pc, qc []uint32
	for i := range 5 {
		pc = append(pc, mustInsert(t, tab, typB, &child{res{name: "pc", parent: p, dropped: &dropped}}))
		qc = append(qc, mustInsert(t, tab, typB, &child{res{name: "qc", parent: q, dropped: &dropped}}))
		_ = i
	}
	// Remove the middle, the first and the last child of p.
	for _, i := range []int{2, 0, 4} {
		if _, err := tab.Remove(pc[i], typB); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tab.Remove(ph, typA); err == nil || !strings.Contains(err.Error(), "has 2 live children") {
		t.Fatalf("Remove(p) = %v, want 2 live children", err)
	}
	if _, err := tab.Take(ph, typA); err != nil {
		t.Fatal(err)
	}
	// p's remaining children are detached; q's are untouched.
	for _, h := range []uint32{pc[1], pc[3]} {
		if s := tab.slots[h]; s.parent != 0 || s.prev != 0 || s.next != 0 {
			t.Errorf("child %d of a released parent still linked: %+v", h, s)
		}
	}
	if got := tab.slots[qh].children; got != 5 {
		t.Errorf("q has %d children, want 5", got)
	}
	n := 0
	for c := tab.slots[qh].firstChild; c != 0; c = tab.slots[c].next {
		if tab.slots[c].parent != qh {
			t.Errorf("child %d of q has parent %d", c, tab.slots[c].parent)
		}
		n++
	}
	if n != 5 {
		t.Errorf("q's child list has %d entries, want 5", n)
	}
	for _, h := range qc {
		if _, err := tab.Remove(h, typB); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tab.Remove(qh, typA); err != nil {
		t.Fatal(err)
	}
}

// Releasing a parent costs its children, not the table's size: with many
// unrelated handles live, dropping parents stays cheap.
func BenchmarkTableReleaseParent(b *testing.B) {
	var dropped []string
	tab := new(Table)
	tab.SetLimit(1<<21, "")
	for range 1 << 20 {
		if _, err := tab.Insert(typA, &res{dropped: &dropped}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		p := &res{dropped: &dropped}
		ph, _ := tab.Insert(typA, p)
		ch, _ := tab.Insert(typB, &child{res{parent: p, dropped: &dropped}})
		tab.Take(ph, typA)
		tab.Remove(ch, typB)
	}
}

// Once most handles are released the table gives its memory back: the
// slots after the last live handle go, and the index is rebuilt. Handles
// still live keep working and new ones are valid.
func TestTableShrinks(t *testing.T) {
	var dropped []string
	tab := new(Table)
	keep := &res{name: "keep", dropped: &dropped}
	kh := mustInsert(t, tab, typA, keep)
	var hs []uint32
	for range 10000 {
		hs = append(hs, mustInsert(t, tab, typA, &res{dropped: &dropped}))
	}
	mid := hs[5000]
	for i, h := range hs {
		if i == 5000 {
			continue
		}
		if _, err := tab.Remove(h, typA); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(tab.slots); got > int(mid)+1 {
		t.Errorf("%d slots left with the highest live handle %d", got, mid)
	}
	if len(tab.free) > 2*len(tab.slots) || len(tab.index) != 2 {
		t.Errorf("free list %d, index %d entries after shrinking to %d slots, 2 live", len(tab.free), len(tab.index), len(tab.slots))
	}
	if v, err := tab.Get(kh, typA); err != nil || v != keep {
		t.Errorf("live handle after shrink: %v, %v", v, err)
	}
	if _, err := tab.Get(hs[9999], typA); err == nil {
		t.Error("a cut handle is still valid")
	}
	// Children still find their parents through the rebuilt index.
	c := &child{res{name: "c", parent: keep, dropped: &dropped}}
	ch := mustInsert(t, tab, typB, c)
	if ch >= uint32(len(tab.slots)) || tab.slots[ch].parent != kh {
		t.Errorf("child %d after shrink: parent %d, want %d", ch, tab.slots[ch].parent, kh)
	}
	if _, err := tab.Remove(kh, typA); err == nil {
		t.Error("parent with a live child dropped after shrink")
	}
}

// Close drains a large table whose top holds a child below its parent
// (a reused handle) without the table shrinking under its loop.
func TestCloseLargeTable(t *testing.T) {
	var dropped []string
	inst := NewInstance()
	tab := inst.Table()
	var fillers []uint32
	for range 2 * shrinkMin {
		fillers = append(fillers, mustInsert(t, tab, typA, &res{name: "f", dropped: &dropped}))
	}
	p := &res{name: "p", dropped: &dropped}
	mustInsert(t, tab, typA, p)
	if _, err := tab.Remove(fillers[len(fillers)-1], typA); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, tab, typB, &child{res{name: "c", parent: p, dropped: &dropped}})
	if err := inst.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := 2*shrinkMin + 1; len(dropped) != want { // the fillers but one, p and c
		t.Errorf("%d drops, want %d", len(dropped), want)
	}
}

// The limit error says what the guest holds, most common types first.
func TestTableLimitHeld(t *testing.T) {
	var dropped []string
	tab := new(Table)
	tab.SetLimit(10, "")
	types := []*ResourceType{typA, typB, NewResourceType("test:a/a.c"), NewResourceType("test:a/a.d"), NewResourceType("test:a/a.e")}
	for i, n := range []int{1, 5, 2, 1, 1} {
		for range n {
			mustInsert(t, tab, types[i], &res{dropped: &dropped})
		}
	}
	_, err := tab.Insert(typA, &res{dropped: &dropped})
	if want := "(5 test:a/a.b, 2 test:a/a.c, 1 test:a/a.a, 2 of 2 other types)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q in it", err, want)
	}
}

// A result holding three own handles (a connection and its two streams)
// whose second does not fit the table: the first stays in the table, the
// second and the third are dropped, none reaches the guest, and the call
// traps at the result's store naming the limit. Before, the call trapped
// at the second's reservation and the third was never dropped: a host
// object, possibly holding a connection, left to the garbage collector.
func TestTableLimitMidResult(t *testing.T) {
	var dropped []string
	inst := NewInstance()
	tab := inst.Table()
	tab.SetLimit(3, "Limits.Handles")
	mustInsert(t, tab, typA, &res{name: "held1", dropped: &dropped})
	mustInsert(t, tab, typA, &res{name: "held2", dropped: &dropped})
	call := Call{Func: "wasi:test/f#g", inst: inst, table: tab}
	func() {
		defer func() {
			if v := recover(); v != nil {
				panic(v)
			}
		}()
		defer func() {
			tr, ok := recover().(*Trap)
			if !ok || tr.Func != "wasi:test/f#g" || !strings.Contains(tr.Msg, "cannot hold another") || !strings.Contains(tr.Msg, "Limits.Handles") {
				t.Errorf("trap %v, want the limit named", tr)
			}
		}()
		defer call.End()
		call.Reserve(&res{name: "conn", dropped: &dropped}, typA)
		call.Reserve(&res{name: "in", dropped: &dropped}, typA)
		call.Reserve(&res{name: "out", dropped: &dropped}, typA)
		call.Own(nil, typA)
		t.Error("Own after a failed reservation did not trap")
	}()
	if strings.Join(dropped, ",") != "in,out" {
		t.Errorf("dropped %v, want in and out (the resources that did not fit)", dropped)
	}
	if tab.Len() != 3 {
		t.Errorf("Len = %d, want 3 (the reserved conn stays in the table)", tab.Len())
	}
	if inst.reserveErr != nil || len(inst.reserved) != 0 {
		t.Errorf("the failed reservation was not forgotten: %v, %v", inst.reserveErr, inst.reserved)
	}
	// Close drops what the table holds.
	inst.Close(context.Background())
	if len(dropped) != 5 {
		t.Errorf("dropped %v after Close, want all five", dropped)
	}
}
