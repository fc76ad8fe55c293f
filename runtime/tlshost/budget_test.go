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
