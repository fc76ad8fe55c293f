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
// while it is lent. Before, the table took the resource twice.
func TestExportRefusesHeld(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.InstantiateWithConfig(ctx, allocWasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	i32 := api.ValueTypeI32
	g := &optionsGuest{fn: mod.ExportedFunction("alloc"), optMem: mod.ExportedMemory("mem"), optRealloc: mod.ExportedFunction("alloc")}
	var dropped []string
	for _, tc := range []struct {
		name string
		held bool // the guest holds v before the call
		body func(c *Call, v Resource)
	}{
		{"own-then-lend", false, func(c *Call, v Resource) { c.Own(v, typA); c.Lend(v, typA) }},
		{"lend-then-own", false, func(c *Call, v Resource) { c.Lend(v, typA); c.Own(v, typA) }},
		{"own-held", true, func(c *Call, v Resource) { c.Own(v, typA) }},
		{"lend-held", true, func(c *Call, v Resource) { c.Lend(v, typA) }},
		{"guest-lend-then-give", false, func(c *Call, _ Resource) {
			g := GuestResource{typ: typA, rep: 7}
			c.LendRep(&g, typA)
			c.GiveRep(&GuestResource{typ: typA, rep: 7}, typA)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := NewInstance()
			b := NewBinder(g, "t", "")
			f := b.Func("f", "", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
			x := b.Exports(inst, nil, 4, true)
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			v := &res{name: tc.name, dropped: &dropped}
			if tc.held {
				mustInsert(t, inst.Table(), typA, v)
			}
			var err error
			func() {
				var c Call
				defer c.EndExport(&err)
				c.BeginExport(ctx, &x, &f)
				tc.body(&c, v)
			}()
			if !errors.Is(err, ErrHeld) || inst.Trapped() {
				t.Fatalf("err = %v (trapped %v), want a refusal wrapping ErrHeld", err, inst.Trapped())
			}
			t.Log(err)
			if err := inst.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if n := len(dropped); n > 1 {
				t.Fatalf("dropped %d times", n)
			}
			dropped = dropped[:0]
		})
	}
}
