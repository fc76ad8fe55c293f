package abitest

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/generator/internal/calc/test/kitchen/calc"
	"github.com/wasitls/wasitls/generator/internal/plugin/test/kitchen/plugin"
)

// twoExports is the core module exporting two interfaces, plugin and calc.
const twoExports = "./testdata/twoexports"

// twoGuest is the twoexports guest with both interfaces bound to its one
// instance, and three host counters to lend it.
type twoGuest struct {
	*pluginGuest
	calc    *calc.Exports
	a, b, c *pluginCounter
}

func newTwoGuest(t *testing.T) *twoGuest {
	t.Helper()
	g := newPluginGuestFrom(t, twoExports)
	xc, err := calc.Bind(g.inst, g.mod, "")
	if err != nil {
		t.Fatal(err)
	}
	counter := func(n uint32) *pluginCounter { return g.h.NewCounter(g.ctx, n).(*pluginCounter) }
	return &twoGuest{pluginGuest: g, calc: xc, a: counter(2), b: counter(30), c: counter(400)}
}

// sum calls interface A, plugin's sum-counters, lending the three
// counters, and checks its answer and that it left the instance as it
// found it: no handle in the table, no counter dropped, not trapped.
func (g *twoGuest) sum(t *testing.T) {
	t.Helper()
	n, err := g.x.SumCounters(g.ctx, []plugin.Counter{g.a, g.b, g.c})
	if err != nil || n != 432 {
		t.Errorf("sum-counters: %d, %v; want 432", n, err)
	}
	g.intact(t)
}

func (g *twoGuest) intact(t *testing.T) {
	t.Helper()
	if n := g.inst.Table().Len(); n != 0 || g.inst.Trapped() || g.h.live.Load() != 3 {
		t.Errorf("%d handles left in the table, trapped %v, %d counters alive; want 0, false, 3", n, g.inst.Trapped(), g.h.live.Load())
	}
}

// callB calls interface B, calc, through a call with per-call state
// (shout: a string lowered through the guest's realloc, a return area, a
// post-return) and a scalar one (add), and returns the errors of the
// calls that failed; a call that succeeds must answer right.
func (g *twoGuest) callB(t *testing.T) (errs []error) {
	if s, err := g.calc.Shout(g.ctx, "b"); err != nil {
		errs = append(errs, err)
	} else if s != "B!" {
		t.Errorf("calc shout = %q, want B!", s)
	}
	if n, err := g.calc.Add(g.ctx, 1, 2); err != nil {
		errs = append(errs, err)
	} else if n != 3 {
		t.Errorf("calc add = %d, want 3", n)
	}
	return errs
}

// busy checks that err refuses a call because the instance is busy: it
// matches ErrInstanceBusy and its former name ErrReentered, and is no
// trap.
func busy(t *testing.T, what string, err error) {
	t.Helper()
	var trap *cabi.Trap
	if !errors.Is(err, cabi.ErrInstanceBusy) || !errors.Is(err, cabi.ErrReentered) || errors.As(err, &trap) {
		t.Errorf("%s: %v, want an error wrapping cabi.ErrInstanceBusy (and ErrReentered), no trap", what, err)
	}
}

// TestInstanceClaimReentry: a host function the guest called during a
// call into interface A (plugin's sum-counters, with three counters lent
// for it) calls interface B (calc) of the same core module, and A again.
// Each is refused with ErrInstanceBusy before the guest sees it, and
// touches none of A's state: A reads its other lent counters after the
// refusals, ends their borrows and answers right; the instance stays
// usable, B included.
func TestInstanceClaimReentry(t *testing.T) {
	g := newTwoGuest(t)
	var refused []error
	g.a.onGet = func() {
		refused = append(refused, g.callB(t)...)
		_, err := g.x.Add(g.ctx, 1, 1)
		refused = append(refused, err)
		_, err = g.x.Shout(g.ctx, "a")
		refused = append(refused, err)
	}
	g.sum(t)
	if len(refused) != 4 {
		t.Fatalf("%d of the 4 calls from inside the call were refused: %v", len(refused), refused)
	}
	for i, err := range refused {
		busy(t, []string{"calc shout", "calc add", "plugin add", "plugin shout"}[i], err)
		if !strings.Contains(err.Error(), "#") {
			t.Errorf("refusal %q names no function", err)
		}
	}
	g.a.onGet = nil
	if errs := g.callB(t); errs != nil {
		t.Errorf("calc after the refused calls: %v", errs)
	}
	g.sum(t)
}

// TestInstanceClaimConcurrent: calls into the two interfaces from two
// goroutines. While A's call is inside a host function, a call of B from
// another goroutine is refused; calls racing freely either complete with
// the right answer or are refused with ErrInstanceBusy, never run on top
// of each other. Run with -race for the host's side.
func TestInstanceClaimConcurrent(t *testing.T) {
	g := newTwoGuest(t)
	var refused []error
	g.a.onGet = func() {
		done := make(chan []error)
		go func() { done <- g.callB(t) }()
		refused = <-done
	}
	g.sum(t)
	if len(refused) != 2 {
		t.Fatalf("%d of the 2 calls from another goroutine during the call were refused: %v", len(refused), refused)
	}
	for _, err := range refused {
		busy(t, "calc from another goroutine", err)
	}
	// A's call yields inside each host function it makes, so that B's
	// calls land in the middle of it.
	g.a.onGet, g.b.onGet = runtime.Gosched, runtime.Gosched

	const rounds = 300
	var wg sync.WaitGroup
	var refusedA, refusedB int
	wg.Go(func() {
		for range rounds {
			n, err := g.x.SumCounters(g.ctx, []plugin.Counter{g.a, g.b, g.c})
			switch {
			case err != nil:
				busy(t, "sum-counters racing calc", err)
				refusedA++
			case n != 432:
				t.Errorf("sum-counters racing calc = %d, want 432", n)
			}
		}
	})
	wg.Go(func() {
		for range rounds {
			for _, err := range g.callB(t) {
				busy(t, "calc racing sum-counters", err)
				refusedB++
			}
		}
	})
	wg.Wait()
	t.Logf("refused: %d of %d sum-counters, %d of %d calc calls", refusedA, rounds, refusedB, 2*rounds)
	g.a.onGet, g.b.onGet = nil, nil
	g.intact(t)
	if errs := g.callB(t); errs != nil {
		t.Errorf("calc after the race: %v", errs)
	}
	g.sum(t)
}
