//go:build unix

package wasiio

import (
	"context"
	"testing"
	"time"
)

// awaitCounter counts the Awaits of an inline input stream.
type awaitCounter struct {
	*InlineInputStream
	awaits int
}

func (a *awaitCounter) Await(ctx context.Context, deadline time.Time) bool {
	a.awaits++
	return a.InlineInputStream.Await(ctx, deadline)
}

// TestStaleEndAwaitCostsOneAwait: a request to end an await that comes
// when none runs (a source beside the stream woke after its wait was
// over) is kept for the next Await, which returns at once. That costs a
// later wait on the stream alone one spurious turn of its loop, no more:
// the wait checks readiness, finds nothing, and awaits again, blocking
// in the source's one read until its deadline; the wait after it awaits
// once. It never ends a wait early, nor reads the source twice.
func TestStaleEndAwaitCostsOneAwait(t *testing.T) {
	a, _ := tcpPair(t)
	c := nonblocking(t, a)
	src := &awaitCountingSource{countingSource: countingSource{c: c}}
	s := NewInlineInputStream(src, nil)
	defer s.Close()
	for i, stale := range []bool{true, false} {
		if stale {
			s.EndAwait()
		}
		w := &awaitCounter{InlineInputStream: s}
		start := time.Now()
		ready, err := Wait(bg, []Source{w, NewDeadline(start.Add(30 * time.Millisecond))})
		if err != nil || len(ready) != 1 || ready[0] != 1 {
			t.Fatalf("stale %v: %v, %v; want the deadline, [1]", stale, ready, err)
		}
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Fatalf("stale %v: the wait ended after %v, before its deadline", stale, d)
		}
		want := 1
		if stale {
			want = 2
		}
		if w.awaits != want {
			t.Errorf("stale %v: %d awaits, want %d", stale, w.awaits, want)
		}
		if n := src.reads.Load(); n != int32(i+1) {
			t.Errorf("stale %v: %d blocking reads in all, want %d", stale, n, i+1)
		}
	}
}
