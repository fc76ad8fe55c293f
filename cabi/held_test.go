package cabi

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// TestExportRefusesHeld: an export call is refused, before the guest runs
// and without marking the instance trapped, when the host gives the guest
// as own<R> a resource the guest holds already or the call lends it, or
// lends it one the guest holds as its own, or gives back as own<R> one
// of the guest's own resources the call lends it (its rep): the guest
// would hold one resource twice, or could drop it, or run its destructor,
// while it is lent. Before, the table took the resource twice. A refused
// call leaves the resources it was given the caller's: taken back out of
// the table, never dropped (before, one moved in ahead of the refusal
// stayed in the table, for Close to drop under the caller).
func TestExportRefusesHeld(t *testing.T) {
	ctx := context.Background()
	g := heldGuest(t)
	var dropped []string
	var given GuestResource // of the guest-give-then-nil case
	for _, tc := range []struct {
		name string
		held bool // the guest holds v before the call
		body func(c *Call, v Resource)
		want error
	}{
		{"own-then-lend", false, func(c *Call, v Resource) { c.Own(v, typA); c.Lend(v, typA) }, ErrHeld},
		{"lend-then-own", false, func(c *Call, v Resource) { c.Lend(v, typA); c.Own(v, typA) }, ErrHeld},
		{"own-held", true, func(c *Call, v Resource) { c.Own(v, typA) }, ErrHeld},
		{"lend-held", true, func(c *Call, v Resource) { c.Lend(v, typA) }, ErrHeld},
		{"guest-lend-then-give", false, func(c *Call, _ Resource) {
			g := GuestResource{typ: typA, rep: 7}
			c.LendRep(&g, typA)
			c.GiveRep(&GuestResource{typ: typA, rep: 7}, typA)
		}, ErrHeld},
		// A refusal of a later argument: those moved before it are
		// taken back, the caller's still.
		{"own-then-nil", false, func(c *Call, v Resource) { c.Own(v, typA); c.Own(nil, typA) }, ErrNilResource},
		{"guest-give-then-nil", false, func(c *Call, _ Resource) {
			given = GuestResource{typ: typA, rep: 7}
			c.GiveRep(&given, typA)
			c.Own(nil, typA)
		}, ErrNilResource},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dropped, given = dropped[:0], GuestResource{}
			inst := NewInstance()
			v := &res{name: tc.name, dropped: &dropped}
			if tc.held {
				mustInsert(t, inst.Table(), typA, v)
			}
			err := callF(t, g, inst, func(c *Call) { tc.body(c, v) })
			if !errors.Is(err, tc.want) || inst.Trapped() {
				t.Fatalf("err = %v (trapped %v), want a refusal wrapping %v", err, inst.Trapped(), tc.want)
			}
			t.Log(err)
			// The refused call left the table as it found it: what the
			// guest held before, nothing the call moved in.
			if n, want := inst.Table().Len(), map[bool]int{false: 0, true: 1}[tc.held]; n != want {
				t.Errorf("%d handles in the table after the refusal, want %d", n, want)
			}
			if given.spent {
				t.Error("the GuestResource given stays spent after the refusal")
			}
			if err := inst.Close(ctx); err != nil {
				t.Fatal(err)
			}
			// Close drops what the guest held, once; a resource the
			// refused call was given is the caller's, never dropped.
			if n, want := len(dropped), map[bool]int{false: 0, true: 1}[tc.held]; n != want {
				t.Fatalf("dropped %d times, want %d", n, want)
			}
		})
	}
}

// TestHoldsTwice: a value two live handles hold (a host function may
// return one value twice, as wasi:cli's get-stdin does) is held until
// the last of them is released, whichever goes first, so an export call
// is refused lending it or giving it while the guest still holds it.
// Before, releasing either handle took the value out of the index, and
// Holds, and so ErrHeld, missed the handle left.
func TestHoldsTwice(t *testing.T) {
	g := heldGuest(t)
	for _, first := range []int{0, 1} {
		for _, lend := range []bool{true, false} {
			var dropped []string
			inst := NewInstance()
			v := &res{name: "v", dropped: &dropped}
			h := [2]uint32{mustInsert(t, inst.Table(), typA, v), mustInsert(t, inst.Table(), typA, v)}
			if _, err := inst.Table().Take(h[first], typA); err != nil {
				t.Fatal(err)
			}
			if !inst.Holds(v) {
				t.Fatalf("handle %d released: Holds = false, handle %d still holds it", h[first], h[1-first])
			}
			err := callF(t, g, inst, func(c *Call) {
				if lend {
					c.Lend(v, typA)
				} else {
					c.Own(v, typA)
				}
			})
			if !errors.Is(err, ErrHeld) {
				t.Fatalf("first %d, lend %v: err = %v, want a refusal wrapping ErrHeld", first, lend, err)
			}
			if got, err := inst.Table().Remove(h[1-first], typA); err != nil || got != v {
				t.Fatalf("Remove = %v, %v", got, err)
			}
			if inst.Holds(v) || inst.Table().Len() != 0 || len(dropped) != 0 {
				t.Fatalf("both released: Holds = %v, %d handles, dropped %v", inst.Holds(v), inst.Table().Len(), dropped)
			}
		}
	}
}

// heldGuest is allocWasm instantiated as an options guest, whose export f
// callF calls.
func heldGuest(t *testing.T) *optionsGuest {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	mod, err := r.InstantiateWithConfig(ctx, allocWasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	return &optionsGuest{fn: mod.ExportedFunction("alloc"), optMem: mod.ExportedMemory("mem"), optRealloc: mod.ExportedFunction("alloc")}
}

// callF begins an export call of g's f on inst, lowers its arguments with
// body, ends the call before the guest runs, and returns the call's error.
func callF(t *testing.T, g *optionsGuest, inst *Instance, body func(c *Call)) (err error) {
	i32 := api.ValueTypeI32
	b := NewBinder(g, "t", "")
	f := b.Func("f", "", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	x := b.Exports(inst, nil, 4, true)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	var c Call
	defer c.EndExport(&err)
	c.BeginExport(context.Background(), &x, &f)
	body(&c)
	return nil
}
