package tlshost

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestByteBudgetTake: a take that reaches the limit exactly fits, one
// past it is refused with the count it would have made and leaves the
// count as it was, and a negative take (a setting made smaller) always
// counts.
func TestByteBudgetTake(t *testing.T) {
	b := &byteBudget{limit: 10}
	if used, ok := b.take(10); !ok || used != 10 {
		t.Fatalf("take(10) of 10 = %d, %v; want 10, true", used, ok)
	}
	if used, ok := b.take(1); ok || used != 11 {
		t.Fatalf("take(1) at the limit = %d, %v; want 11, false", used, ok)
	}
	if got := b.used.Load(); got != 10 {
		t.Fatalf("after a refused take the count is %d, want 10", got)
	}
	if used, ok := b.take(-4); !ok || used != 6 {
		t.Fatalf("take(-4) = %d, %v; want 6, true", used, ok)
	}
	b.give(6)
	if got := b.used.Load(); got != 0 {
		t.Fatalf("after giving all back the count is %d, want 0", got)
	}
}

// TestByteBudgetRefusalDoesNotCrowdOut: with the count one short of the
// limit, one goroutine takes a byte and gives it back, over and over,
// while another keeps asking for more than the limit. Every one-byte
// take fits and must count; every oversized one must be refused; and a
// reader never sees the count past the limit. (A take that added first
// and took back on refusal pushed the count past the limit for a moment,
// refusing the one-byte take that would have fitted.)
func TestByteBudgetRefusalDoesNotCrowdOut(t *testing.T) {
	const limit, rounds = 1 << 20, 200000
	b := &byteBudget{limit: limit}
	if _, ok := b.take(limit - 1); !ok {
		t.Fatal("the first take was refused")
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	var bigOK, over atomic.Int64
	wg.Add(2)
	go func() { // refused, over and over
		defer wg.Done()
		for !done.Load() {
			if _, ok := b.take(limit + 1); ok {
				bigOK.Add(1)
			}
		}
	}()
	go func() { // reads the count, as a report of it would
		defer wg.Done()
		for !done.Load() {
			if b.used.Load() > limit {
				over.Add(1)
			}
		}
	}()
	refused := 0
	for range rounds {
		if _, ok := b.take(1); !ok {
			refused++
			continue
		}
		b.give(1)
	}
	done.Store(true)
	wg.Wait()
	if refused > 0 {
		t.Errorf("%d of %d one-byte takes that fitted were refused", refused, rounds)
	}
	if n := bigOK.Load(); n > 0 {
		t.Errorf("%d takes past the limit counted", n)
	}
	if n := over.Load(); n > 0 {
		t.Errorf("a reader saw the count past the limit %d times", n)
	}
	if got := b.used.Load(); got != limit-1 {
		t.Errorf("the count ends at %d, want %d", got, limit-1)
	}
}

// TestByteBudgetFreed: the channel of freed is closed by the next give or
// negative take, as a waiter blocked on it sees, and not by a take that
// adds; each waiter taking it before the refund is woken. Through a
// connection's guard (backends.ReadAheadNotifier): a refused hold, then
// another connection's smaller hold, wakes the one refused.
func TestByteBudgetFreed(t *testing.T) {
	b := &byteBudget{limit: 10}
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ch := b.freed()
	if _, ok := b.take(10); !ok || closed(ch) {
		t.Fatalf("a take that adds: ok %v, woke %v; want true, false", ok, closed(ch))
	}
	if _, ok := b.take(1); ok || closed(ch) {
		t.Fatalf("a refused take: ok %v, woke %v; want false, false", ok, closed(ch))
	}
	var woken sync.WaitGroup
	for range 3 {
		woken.Add(1)
		w := b.freed()
		go func() {
			defer woken.Done()
			<-w
		}()
	}
	b.take(-4)
	woken.Wait() // hangs if a waiter is not woken
	if !closed(ch) {
		t.Fatal("a negative take left the channel open")
	}
	ch = b.freed()
	b.give(6)
	if !closed(ch) {
		t.Fatal("a give left the channel open")
	}

	// Two connections of one guest.
	budget := &byteBudget{limit: 100}
	a, c := new(guard), new(guard)
	a.readAhead.Store(&readAheadHold{b: budget})
	c.readAhead.Store(&readAheadHold{b: budget})
	if err := a.HoldReadAhead(80); err != nil {
		t.Fatal(err)
	}
	ch = c.ReadAheadFreed()
	if err := c.HoldReadAhead(40); err == nil {
		t.Fatal("a hold past the limit was taken")
	}
	if closed(ch) {
		t.Fatal("a refused hold woke the waiter")
	}
	if err := a.HoldReadAhead(30); err != nil || !closed(ch) {
		t.Fatalf("a smaller hold of another connection: %v, woke %v; want nil, true", err, closed(ch))
	}
	if err := c.HoldReadAhead(40); err != nil {
		t.Fatalf("once woken the hold is refused: %v", err)
	}
	if new(guard).ReadAheadFreed() != nil {
		t.Error("a connection not counted has a channel to wait on")
	}
}
