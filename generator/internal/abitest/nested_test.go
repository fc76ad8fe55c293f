package abitest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/plugin/test/kitchen/plugin"
)

// TestNestedBorrows lends host counters inside the arguments of exports: in
// a list (one counter twice), an option, a record, a variant's cases and a
// result's two sides holding a tuple. The guest reads each through the
// imported method and ends each borrow before returning (the hand-written
// guest by hand, the generated one through the export glue); the host
// checks the answers and that no handle is left in its table and no
// counter was dropped.
func TestNestedBorrows(t *testing.T) { pluginGuests(t, testNestedBorrows) }

func testNestedBorrows(t *testing.T, g *pluginGuest) {
	ctx, x := g.ctx, g.x
	table := g.inst.Table()
	a := g.h.NewCounter(ctx, 2).(*pluginCounter)
	b := g.h.NewCounter(ctx, 30).(*pluginCounter)
	c := g.h.NewCounter(ctx, 400).(*pluginCounter)
	empty := func(what string) {
		t.Helper()
		if n := table.Len(); n != 0 {
			t.Errorf("%s: %d handles left in the table, want 0", what, n)
		}
	}

	for _, tc := range []struct {
		cs   []plugin.Counter
		want uint32
	}{
		{nil, 0},
		{[]plugin.Counter{a}, 2},
		{[]plugin.Counter{a, b, c, a}, 434},
	} {
		if got := must[uint32](t, "sum-counters")(x.SumCounters(ctx, tc.cs)); got != tc.want {
			t.Errorf("sum-counters of %d = %d, want %d", len(tc.cs), got, tc.want)
		}
		empty("sum-counters")
	}
	// 1000 lent in one call: each one ended.
	many := make([]plugin.Counter, 1000)
	for i := range many {
		many[i] = []plugin.Counter{a, b, c}[i%3]
	}
	if got := must[uint32](t, "sum-counters")(x.SumCounters(ctx, many)); got != 334*2+333*30+333*400 {
		t.Errorf("sum-counters of 1000 = %d", got)
	}
	empty("sum-counters of 1000")

	if got := must[cabi.Option[uint32]](t, "peek-maybe")(x.PeekMaybe(ctx, cabi.Some[plugin.Counter](b))); got != cabi.Some[uint32](30) {
		t.Errorf("peek-maybe(some) = %v", got)
	}
	if got := must[cabi.Option[uint32]](t, "peek-maybe")(x.PeekMaybe(ctx, cabi.None[plugin.Counter]())); got.IsSome() {
		t.Errorf("peek-maybe(none) = %v", got)
	}
	empty("peek-maybe")

	if got := must[string](t, "describe-tagged")(x.DescribeTagged(ctx, plugin.Tagged{Name: "tâg", C: c})); got != "tâg:400" {
		t.Errorf("describe-tagged = %q", got)
	}
	empty("describe-tagged")

	for _, tc := range []struct {
		l    plugin.Lender
		want uint32
	}{
		{plugin.LenderNobody(), 100},
		{plugin.LenderOne(b), 30},
		{plugin.LenderTwo(cabi.Tuple2[plugin.Counter, plugin.Counter]{F0: c, F1: a}), 402},
	} {
		if got := must[uint32](t, "peek-lender")(x.PeekLender(ctx, tc.l)); got != tc.want {
			t.Errorf("peek-lender(%v) = %d, want %d", tc.l.Tag, got, tc.want)
		}
		empty("peek-lender")
	}

	type pair = cabi.Tuple2[plugin.Counter, plugin.Counter]
	if got := must[uint32](t, "peek-either")(x.PeekEither(ctx, cabi.OK[plugin.Counter, pair](c))); got != 400 {
		t.Errorf("peek-either(ok) = %d", got)
	}
	if got := must[uint32](t, "peek-either")(x.PeekEither(ctx, cabi.Err[plugin.Counter](pair{F0: c, F1: b}))); got != 370 {
		t.Errorf("peek-either(err) = %d", got)
	}
	empty("peek-either")

	// A host mistake inside a nested argument is refused before the guest
	// sees the call; what was already lent is taken back.
	if _, err := x.SumCounters(ctx, []plugin.Counter{a, nil}); !errors.Is(err, cabi.ErrNilResource) || !strings.Contains(err.Error(), "#sum-counters") {
		t.Errorf("sum-counters with a nil counter: %v, want cabi.ErrNilResource naming the function", err)
	}
	empty("a refused call")
	if g.inst.Trapped() {
		t.Fatal("a host mistake trapped the instance")
	}

	for _, k := range []*pluginCounter{a, b, c} {
		if k.dropped.Load() {
			t.Errorf("a lent counter (%d) was dropped", k.n)
		}
		k.Drop()
	}
	if err := g.inst.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := g.h.live.Load(); n != 0 {
		t.Errorf("%d host counters alive", n)
	}
}

// TestNestedBorrowsHostile has the hand-written guest keep one borrow of a
// list past the call and drop a borrow in an option twice, and the
// generated guest's implementation drop a borrow the glue then ends again:
// each call traps naming the function, the instance is marked trapped, the
// host's counters come back undropped and the table is left empty.
func TestNestedBorrowsHostile(t *testing.T) {
	for _, tc := range []struct {
		name, dir, fn, msg string
		call               func(g *pluginGuest, cs []plugin.Counter) error
	}{
		{"keep-nested", handPlugin, "test:kitchen/plugin@0.1.0#keep-nested", "borrow handles still remain at the end of the call: 1 lent",
			func(g *pluginGuest, cs []plugin.Counter) error { _, err := g.x.KeepNested(g.ctx, cs); return err }},
		{"drop-twice", handPlugin, "test:kitchen/plugin@0.1.0#drop-twice", "[resource-drop]counter: double drop of handle",
			func(g *pluginGuest, cs []plugin.Counter) error {
				_, err := g.x.DropTwice(g.ctx, cabi.Some(cs[0]))
				return err
			}},
		{"drop-twice-generated", genPlugin, "test:kitchen/plugin@0.1.0#drop-twice", "[resource-drop]counter: double drop of handle",
			func(g *pluginGuest, cs []plugin.Counter) error {
				_, err := g.x.DropTwice(g.ctx, cabi.Some(cs[0]))
				return err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newPluginGuestFrom(t, tc.dir)
			a := g.h.NewCounter(g.ctx, 5).(*pluginCounter)
			b := g.h.NewCounter(g.ctx, 7).(*pluginCounter)
			err := tc.call(g, []plugin.Counter{a, b, a})
			t.Log(err)
			var trap *cabi.Trap
			if !errors.As(err, &trap) || trap.Func != tc.fn || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%v, want a trap of %s saying %q", err, tc.fn, tc.msg)
			}
			if !g.inst.Trapped() {
				t.Error("the instance is not marked trapped")
			}
			if n := g.inst.Table().Len(); n != 0 {
				t.Errorf("%d handles left in the table", n)
			}
			if _, err := g.x.SumCounters(g.ctx, []plugin.Counter{a}); !errors.As(err, &trap) {
				t.Errorf("a call after the trap: %v, want a trap", err)
			}
			if err := g.inst.Close(g.ctx); err != nil {
				t.Fatal(err)
			}
			if a.dropped.Load() || b.dropped.Load() {
				t.Error("a lent counter was dropped by the guest's instance")
			}
			a.Drop()
			b.Drop()
		})
	}

	// The generated guest's glue ends every borrow, even one the
	// implementation of keep-nested (hostile by hand) keeps.
	g := newPluginGuestFrom(t, genPlugin)
	a := g.h.NewCounter(g.ctx, 5).(*pluginCounter)
	if n, err := g.x.KeepNested(g.ctx, []plugin.Counter{a, a}); err != nil || n != 10 {
		t.Errorf("keep-nested: %d, %v; want 10, nil (the glue ends the borrows)", n, err)
	}
	if a.dropped.Load() || g.inst.Table().Len() != 0 {
		t.Errorf("after keep-nested: counter dropped %v, %d handles; want false and 0", a.dropped.Load(), g.inst.Table().Len())
	}
	a.Drop()
}

// TestNestedBorrowsShuffled lends counters in a list, in a list inside a
// record and in a record, 4, 2 and 1 of them, then 40 in the list (more
// than the generated glue records on its stack). The generated guest's
// implementation reverses the list, writes one element over another,
// zeroes the record's list and clears the record's borrow before it
// returns: the glue ends the handles it recorded as it lifted them, so the
// host sees each lent handle dropped exactly once (a second drop or a
// missed one traps the call), the table empty and the instance healthy.
func TestNestedBorrowsShuffled(t *testing.T) { pluginGuests(t, testNestedBorrowsShuffled) }

func testNestedBorrowsShuffled(t *testing.T, g *pluginGuest) {
	ctx, x := g.ctx, g.x
	a := g.h.NewCounter(ctx, 2).(*pluginCounter)
	b := g.h.NewCounter(ctx, 30).(*pluginCounter)
	c := g.h.NewCounter(ctx, 400).(*pluginCounter)
	many := make([]plugin.Counter, 40)
	for i := range many {
		many[i] = []plugin.Counter{a, b, c}[i%3]
	}
	for _, tc := range []struct {
		cs   []plugin.Counter
		want uint32
	}{
		{[]plugin.Counter{a, b, c, a}, 434 + 430 + 2},
		{many, 14*2 + 13*30 + 13*400 + 430 + 2},
		{nil, 430 + 2},
	} {
		got, err := x.Shuffle(ctx, tc.cs, plugin.Crowd{Name: "crowd", Cs: []plugin.Counter{b, c}}, plugin.Tagged{Name: "t", C: a})
		if err != nil || got != tc.want {
			t.Fatalf("shuffle of %d: %d, %v; want %d, nil", len(tc.cs), got, err, tc.want)
		}
		if n := g.inst.Table().Len(); n != 0 {
			t.Errorf("shuffle of %d: %d handles left in the table, want 0", len(tc.cs), n)
		}
	}
	if g.inst.Trapped() {
		t.Fatal("the instance is trapped")
	}
	if got := must[uint32](t, "sum-counters")(x.SumCounters(ctx, []plugin.Counter{c})); got != 400 {
		t.Errorf("sum-counters after shuffle = %d", got)
	}
	for _, k := range []*pluginCounter{a, b, c} {
		if k.dropped.Load() {
			t.Errorf("a lent counter (%d) was dropped", k.n)
		}
		k.Drop()
	}
}

// TestNestedGuestBorrows lends the guest's own widgets inside a list and
// an option: the guest gets their reps (nothing to end), reads each, and
// the widgets stay the host's, undropped and usable.
func TestNestedGuestBorrows(t *testing.T) { pluginGuests(t, testNestedGuestBorrows) }

func testNestedGuestBorrows(t *testing.T, g *pluginGuest) {
	ctx, x := g.ctx, g.x
	w1 := must[*plugin.Widget](t, "new")(x.NewWidget(ctx, "a", 1))
	w2 := must[*plugin.Widget](t, "new")(x.NewWidget(ctx, "b", 2))
	if got := must[string](t, "describe-all")(x.DescribeAll(ctx, []*plugin.Widget{w1, w2, w1})); got != "a:1,b:2,a:1" {
		t.Errorf("describe-all = %q", got)
	}
	if got := must[string](t, "describe-all")(x.DescribeAll(ctx, nil)); got != "" {
		t.Errorf("describe-all of none = %q", got)
	}
	if got := must[uint32](t, "peek-widget")(x.PeekWidget(ctx, cabi.Some(w2))); got != 2 {
		t.Errorf("peek-widget(some) = %d", got)
	}
	if got := must[uint32](t, "peek-widget")(x.PeekWidget(ctx, cabi.None[*plugin.Widget]())); got != 0 {
		t.Errorf("peek-widget(none) = %d", got)
	}
	if n := g.inst.Table().Len(); n != 0 {
		t.Errorf("%d handles in the table, want 0", n)
	}
	// Still the host's: usable, then dropped once each (the destructor
	// runs in the guest).
	if got := must[uint32](t, "bump")(w1.Bump(ctx, 10)); got != 11 {
		t.Errorf("bump after lending = %d", got)
	}
	before := must[uint32](t, "destroyed")(x.WidgetDestroyed(ctx))
	for _, w := range []*plugin.Widget{w1, w2} {
		if err := w.Drop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := must[uint32](t, "destroyed")(x.WidgetDestroyed(ctx)); got != before+2 {
		t.Errorf("destroyed %d after two drops, want %d", got, before+2)
	}
	// A dropped widget cannot be lent again.
	if _, err := x.DescribeAll(ctx, []*plugin.Widget{w1}); err == nil {
		t.Error("describe-all of a dropped widget succeeded")
	} else {
		t.Log(err)
	}
	if g.inst.Trapped() {
		t.Error("the instance is trapped")
	}
}

// TestExportBorrowAllocs counts the guest's heap allocations (its Go
// runtime's Mallocs, read through the mallocs export) per call of
// generated exports: peek (a direct borrow<counter>) allocates nothing,
// sum-counters of 3 and of 16 lent counters allocate the lifted list
// only (the lent handles are recorded on the stack), and of 17 one block
// more.
func TestExportBorrowAllocs(t *testing.T) {
	g := newPluginGuestFrom(t, genPlugin)
	ctx, x := g.ctx, g.x
	c := g.h.NewCounter(ctx, 7).(*pluginCounter)
	list := func(n int) []plugin.Counter { return slices.Repeat([]plugin.Counter{c}, n) }
	for _, tc := range []struct {
		name string
		call func() error
		want float64
	}{
		{"peek", func() error { _, err := x.Peek(ctx, c); return err }, 0},
		{"sum-counters of 3", func() error { _, err := x.SumCounters(ctx, list(3)); return err }, 1},
		{"sum-counters of 16", func() error { _, err := x.SumCounters(ctx, list(16)); return err }, 1},
		{"sum-counters of 17", func() error { _, err := x.SumCounters(ctx, list(17)); return err }, 2},
	} {
		if got := guestAllocs(t, g, 100, tc.call); got != tc.want {
			t.Errorf("%s: %.2f guest allocations per call, want %v", tc.name, got, tc.want)
		} else {
			t.Logf("%s: %.2f guest allocations per call", tc.name, got)
		}
	}
	if n := g.inst.Table().Len(); n != 0 || g.inst.Trapped() {
		t.Errorf("%d handles left, trapped %v", n, g.inst.Trapped())
	}
	c.Drop()
}

// guestAllocs returns the guest's heap allocations per call over n calls.
func guestAllocs(t testing.TB, g *pluginGuest, n int, call func() error) float64 {
	t.Helper()
	if err := call(); err != nil { // warm up
		t.Fatal(err)
	}
	before, err := g.x.Mallocs(g.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := g.x.Mallocs(g.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return float64(after-before) / float64(n)
}

// BenchmarkExportBorrow calls peek (a direct borrow) and sum-counters of 3
// lent counters through the generated glue and reports the guest's heap
// allocations per call next to the host's (allocs/op).
func BenchmarkExportBorrow(b *testing.B) {
	g := newPluginGuestFrom(b, genPlugin)
	ctx, x := g.ctx, g.x
	c := g.h.NewCounter(ctx, 7)
	three := []plugin.Counter{c, c, c}
	for _, bc := range []struct {
		name string
		call func() error
	}{
		{"peek", func() error { _, err := x.Peek(ctx, c); return err }},
		{"sum-counters-3", func() error { _, err := x.SumCounters(ctx, three); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			m0, _ := x.Mallocs(ctx)
			n := 0
			for b.Loop() {
				if err := bc.call(); err != nil {
					b.Fatal(err)
				}
				n++
			}
			m1, _ := x.Mallocs(ctx)
			b.ReportMetric(float64(m1-m0)/float64(n), "guest-allocs/op")
		})
	}
}
