package abitest

import (
	"errors"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/plugin/test/kitchen/plugin"
)

// TestExportedResources drives the widget the guest implements through
// every path: constructor, methods, statics, own and borrow arguments (of
// the guest's resource and of a host one), own results in a list, and both
// destructor paths (the host dropping its handle, the guest dropping one
// it was given).
func TestExportedResources(t *testing.T) { pluginGuests(t, testExportedResources) }

func testExportedResources(t *testing.T, g *pluginGuest) {
	ctx, x := g.ctx, g.x
	table := g.inst.Table()

	w := must[*plugin.Widget](t, "new")(x.NewWidget(ctx, "wí", 3))
	if table.Len() != 0 {
		t.Errorf("%d handles in the table after the constructor, want 0: the host holds the widget", table.Len())
	}
	if got := must[string](t, "describe")(w.Describe(ctx)); got != "wí:3" {
		t.Errorf("describe = %q", got)
	}
	if got := must[uint32](t, "bump")(w.Bump(ctx, 4)); got != 7 {
		t.Errorf("bump = %d, want 7", got)
	}
	tw := must[*plugin.Widget](t, "twin")(w.Twin(ctx))
	if got := must[string](t, "describe")(tw.Describe(ctx)); got != "wí:14" {
		t.Errorf("twin describes as %q", got)
	}
	if tw.Rep() == w.Rep() {
		t.Errorf("twin has the rep %d of its original", tw.Rep())
	}
	if same := must[bool](t, "same")(w.Same(ctx, tw)); same {
		t.Error("same(7, 14) is true")
	}
	if same := must[bool](t, "same")(w.Same(ctx, w)); !same {
		t.Error("same(w, w) is false")
	}

	// A host counter lent to a static: the guest reads it and ends the
	// borrow; the counter stays the host's.
	c := g.h.NewCounter(ctx, 9).(*pluginCounter)
	fc := must[*plugin.Widget](t, "from-counter")(x.WidgetFromCounter(ctx, c, "fc"))
	if got := must[string](t, "describe")(fc.Describe(ctx)); got != "fc:9" {
		t.Errorf("from-counter describes as %q", got)
	}
	if got := must[uint32](t, "peek")(x.Peek(ctx, c)); got != 9 {
		t.Errorf("peek = %d", got)
	}
	if c.dropped.Load() || table.Len() != 0 {
		t.Errorf("after lending: counter dropped %v, %d handles in the table; want false and 0", c.dropped.Load(), table.Len())
	}

	// Own results in a list, each the host's.
	parts := must[[]*plugin.Widget](t, "split")(x.Split(ctx, tw, 3))
	if len(parts) != 3 {
		t.Fatalf("split: %d widgets", len(parts))
	}
	for i, p := range parts {
		want := "wí/" + string(rune('0'+i)) + ":14"
		if got := must[string](t, "describe")(p.Describe(ctx)); got != want {
			t.Errorf("part %d describes as %q, want %q", i, got, want)
		}
	}

	// The host drops: the guest's destructor runs.
	for _, p := range append(parts, tw, fc) {
		if err := p.Drop(ctx); err != nil {
			t.Fatalf("drop: %v", err)
		}
	}
	if n := must[uint32](t, "destroyed")(x.WidgetDestroyed(ctx)); n != 5 {
		t.Errorf("%d widgets destroyed, want 5", n)
	}
	// Spent: a second drop, a call or a pass is an error, and the
	// instance lives on.
	if err := tw.Drop(ctx); !errors.Is(err, cabi.ErrSpent) {
		t.Errorf("second drop: %v, want cabi.ErrSpent", err)
	}
	if _, err := tw.Describe(ctx); !errors.Is(err, cabi.ErrSpent) || !strings.Contains(err.Error(), "#[method]widget.describe") {
		t.Errorf("describe after drop: %v, want cabi.ErrSpent naming the function", err)
	}
	if _, err := w.Same(ctx, parts[0]); !errors.Is(err, cabi.ErrSpent) {
		t.Errorf("same with a dropped other: %v, want cabi.ErrSpent", err)
	}
	if _, err := x.Absorb(ctx, nil); !errors.Is(err, cabi.ErrNilResource) {
		t.Errorf("absorb(nil): %v, want cabi.ErrNilResource", err)
	}
	if g.inst.Trapped() {
		t.Fatal("a host mistake trapped the instance")
	}

	// Own to the guest: the widget moves there and the guest drops it,
	// which runs its destructor from within [resource-drop].
	if got := must[uint32](t, "absorb")(x.Absorb(ctx, w)); got != 7 {
		t.Errorf("absorb = %d, want 7", got)
	}
	if !w.Spent() {
		t.Error("a widget given to the guest is not spent")
	}
	if n := must[uint32](t, "destroyed")(x.WidgetDestroyed(ctx)); n != 6 {
		t.Errorf("%d widgets destroyed after absorb, want 6", n)
	}
	if table.Len() != 0 {
		t.Errorf("%d handles left in the table", table.Len())
	}
	c.Drop()
	if err := g.inst.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := g.h.live.Load(); n != 0 {
		t.Errorf("%d host counters alive", n)
	}
}

// TestExportedResourcesFaults checks what a hostile guest gets: a handle
// that is not in the table, a kept borrow, a trap in a destructor; and
// what the host gets for a resource still held when the instance closes.
func TestExportedResourcesFaults(t *testing.T) {
	var trap *cabi.Trap

	g := newPluginGuest(t)
	if _, err := g.x.BadHandle(g.ctx); !errors.As(err, &trap) || trap.Func != "test:kitchen/plugin@0.1.0#bad-handle" || !strings.Contains(trap.Msg, "unknown handle") {
		t.Errorf("bad-handle: %v, want a trap naming the function and the handle", err)
	}
	if !g.inst.Trapped() {
		t.Error("bad-handle did not mark the instance trapped")
	}

	// [resource-rep] of a widget asked about a handle of another type.
	g = newPluginGuest(t)
	c0 := g.h.NewCounter(g.ctx, 2).(*pluginCounter)
	if _, err := g.x.RepOfCounter(g.ctx, c0); !errors.As(err, &trap) || !strings.Contains(err.Error(), "[resource-rep]widget") || !strings.Contains(err.Error(), "want test:kitchen/plugin.widget") {
		t.Errorf("rep-of-counter: %v, want a trap naming [resource-rep]widget and the type", err)
	}
	if err := g.inst.Close(g.ctx); err != nil || c0.dropped.Load() {
		t.Errorf("close after the trap: %v, counter dropped %v; want nil and false", err, c0.dropped.Load())
	}
	c0.Drop()

	// A borrow kept past the call traps; the host's counter comes back,
	// undropped, and Close does not drop it.
	g = newPluginGuest(t)
	c := g.h.NewCounter(g.ctx, 2).(*pluginCounter)
	if _, err := g.x.KeepBorrow(g.ctx, c); !errors.As(err, &trap) || !strings.Contains(trap.Msg, "borrow handles still remain") {
		t.Errorf("keep-borrow: %v, want a trap for the borrow left", err)
	}
	if err := g.inst.Close(g.ctx); err != nil {
		t.Fatal(err)
	}
	if c.dropped.Load() {
		t.Error("the lent counter was dropped by the guest's instance")
	}
	c.Drop()

	// A destructor that traps: through the host's Drop, and through the
	// guest dropping a handle it was given.
	g = newPluginGuest(t)
	w := must[*plugin.Widget](t, "new")(g.x.NewWidget(g.ctx, "boom", 1))
	if err := w.Drop(g.ctx); !errors.As(err, &trap) || trap.Func != "test:kitchen/plugin@0.1.0#[dtor]widget" {
		t.Errorf("drop of boom: %v, want a trap naming the destructor", err)
	}
	if !g.inst.Trapped() || !w.Spent() {
		t.Errorf("after a trapping destructor: trapped %v, spent %v; want both", g.inst.Trapped(), w.Spent())
	}
	g = newPluginGuest(t)
	w = must[*plugin.Widget](t, "new")(g.x.NewWidget(g.ctx, "boom", 1))
	if _, err := g.x.Absorb(g.ctx, w); !errors.As(err, &trap) || trap.Func != "test:kitchen/plugin@0.1.0#absorb" || !strings.Contains(err.Error(), "destructor") {
		t.Errorf("absorb of boom: %v, want a trap of absorb naming the destructor", err)
	}

	// A Drop from a host function the guest called during an export call
	// is refused, and leaves the widget held.
	g = newPluginGuest(t)
	w = must[*plugin.Widget](t, "new")(g.x.NewWidget(g.ctx, "held", 1))
	c = g.h.NewCounter(g.ctx, 4).(*pluginCounter)
	var dropErr error
	c.onGet = func() { dropErr = w.Drop(g.ctx) }
	if _, err := g.x.WidgetFromCounter(g.ctx, c, "fc"); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(dropErr, cabi.ErrInstanceBusy) || w.Spent() {
		t.Errorf("drop during a call: %v (spent %v), want cabi.ErrInstanceBusy and held", dropErr, w.Spent())
	}
	if err := w.Drop(g.ctx); err != nil || !w.Spent() {
		t.Errorf("drop after the call: %v (spent %v)", err, w.Spent())
	}
	c.Drop()

	// Widgets still held when the instance closes: Close forgets the
	// guest's handles, and a later Drop only spends the widget.
	g = newPluginGuest(t)
	w = must[*plugin.Widget](t, "new")(g.x.NewWidget(g.ctx, "late", 1))
	parts := must[[]*plugin.Widget](t, "split")(g.x.Split(g.ctx, w, 2))
	if _, err := g.x.Absorb(g.ctx, parts[0]); err != nil {
		t.Fatal(err)
	}
	if err := g.inst.Close(g.ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Drop(g.ctx); err != nil || !w.Spent() {
		t.Errorf("drop after close: %v (spent %v), want nil and spent", err, w.Spent())
	}
}

// TestGeneratedGuestResources checks what the generated guest bindings do
// on their own: a borrow of a host resource is ended by the export glue
// even when the implementation keeps it (keep-borrow, hostile in the
// hand-written guest), and a trap in the implementation's destructor
// reaches the host as the destructor's trap.
func TestGeneratedGuestResources(t *testing.T) {
	g := newPluginGuestFrom(t, genPlugin)
	c := g.h.NewCounter(g.ctx, 6).(*pluginCounter)
	if n, err := g.x.KeepBorrow(g.ctx, c); err != nil || n != 6 {
		t.Errorf("keep-borrow: %d, %v; want 6, nil (the glue ends the borrow)", n, err)
	}
	if c.dropped.Load() || g.inst.Table().Len() != 0 {
		t.Errorf("after keep-borrow: counter dropped %v, %d handles; want false and 0", c.dropped.Load(), g.inst.Table().Len())
	}
	c.Drop()

	w := must[*plugin.Widget](t, "new")(g.x.NewWidget(g.ctx, "boom", 1))
	var trap *cabi.Trap
	if err := w.Drop(g.ctx); !errors.As(err, &trap) || trap.Func != "test:kitchen/plugin@0.1.0#[dtor]widget" {
		t.Errorf("drop of boom: %v, want a trap naming the destructor", err)
	}
	if !g.inst.Trapped() {
		t.Error("a trapping destructor did not mark the instance trapped")
	}
}
