package wasiio

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// scriptedBacklog is a budgeted backlog whose unsent count the test sets,
// and whose next counts it can script, to stand for a queue that empties
// between two looks. It wakes nobody: the test makes every call.
type scriptedBacklog struct {
	mu     sync.Mutex
	unsent int
	next   []int // counts Unsent reports first, one a call
}

func (b *scriptedBacklog) Ready() bool    { n, _ := b.Unsent(); return n == 0 }
func (b *scriptedBacklog) Watch(*Waker)   {}
func (b *scriptedBacklog) Unwatch(*Waker) {}

func (b *scriptedBacklog) Unsent() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.next) > 0 {
		n := b.next[0]
		b.next = b.next[1:]
		return n, nil
	}
	return b.unsent, nil
}

func (b *scriptedBacklog) set(unsent int, next ...int) {
	b.mu.Lock()
	b.unsent, b.next = unsent, next
	b.mu.Unlock()
}

func (b *scriptedBacklog) grant(want int) int { return want }
func (b *scriptedBacklog) unreserve()         {}
func (b *scriptedBacklog) guestWrite(w io.Writer, p []byte) (int, error) {
	return w.Write(p)
}

// TestGatheredCheckWrite: while writes are gathered behind unsent bytes,
// check-write grants nothing, even when the queue empties between the
// look that would write them out and the one that grants: a permit
// granted then let the guest gather a second permit's bytes on the first
// (past the gathering buffer, a panic in the guest's call). Once the
// queue is empty, the gathered bytes go out first, in order.
func TestGatheredCheckWrite(t *testing.T) {
	var w bytes.Buffer
	q := &scriptedBacklog{}
	s := NewInlineOutputStream(&w, q, nil)
	defer s.Close()

	if n, err := s.CheckWrite(bg); n != WriteBudget || err != nil {
		t.Fatalf("check-write on an idle stream: %d, %v", n, err)
	}
	if err := s.Write(bg, []byte("a")); err != nil {
		t.Fatal(err)
	}
	q.set(1) // the record of "a" is unsent
	if err := s.Write(bg, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if s.gathered == nil {
		t.Fatal("a write behind unsent bytes was not gathered")
	}
	// The queue empties after check-write's attempt to write the gathered
	// bytes looked at it.
	q.set(0, 1)
	if n, err := s.CheckWrite(bg); n != 0 || err != nil {
		t.Fatalf("check-write with bytes gathered: %d, %v; want 0", n, err)
	}
	if n, err := s.CheckWrite(bg); n != WriteBudget || err != nil {
		t.Fatalf("check-write once the queue is empty: %d, %v", n, err)
	}
	if s.gathered != nil {
		t.Fatal("the gathered bytes were not written once the queue was empty")
	}
	if err := s.Write(bg, []byte("c")); err != nil {
		t.Fatal(err)
	}
	if got := w.String(); got != "abc" {
		t.Fatalf("the writer got %q, want %q", got, "abc")
	}
}

// TestGatheredQueueEmptiedBeforeWatch: a write gathered behind unsent
// bytes goes out even when the queue empties between the look that found
// it busy and the registration of the wake that writes the gathered
// bytes out (the queue's last wake then finds nobody to wake), and the
// guest makes no further call on the stream: a guest that writes a
// request a byte at a time, then waits for the answer on its input
// stream only, would wait for a request that never leaves.
func TestGatheredQueueEmptiedBeforeWatch(t *testing.T) {
	var w bytes.Buffer
	q := &scriptedBacklog{}
	s := NewInlineOutputStream(&w, q, nil)
	defer s.Close()

	if n, err := s.CheckWrite(bg); n != WriteBudget || err != nil {
		t.Fatalf("check-write on an idle stream: %d, %v", n, err)
	}
	if err := s.Write(bg, []byte("a")); err != nil {
		t.Fatal(err)
	}
	// The record of "a" is unsent when the write looks, and out by the
	// time anything looks again; the queue woke nobody (scriptedBacklog
	// never wakes).
	q.set(0, 1)
	if err := s.Write(bg, []byte("b")); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	gathered := s.gathered != nil
	s.mu.Unlock()
	if gathered || w.String() != "ab" {
		t.Fatalf("the writer got %q (bytes still gathered: %v) with the queue empty, want %q", w.String(), gathered, "ab")
	}
}
