package sockets

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestTakeQueuedRefusalDoesNotCrowdOut: the UDP read loops of an
// instance's sockets count their datagrams' bytes against one limit, each
// on its own goroutine. With the count one byte short of the limit, one
// goroutine keeps queueing a datagram too large for what is left while
// another queues one byte and releases it, over and over: every one-byte
// datagram fits and must be counted, every large one must be dropped, and
// QueuedDatagramBytes never reports more than the limit. (A take that
// added first and took back on refusal pushed the count past the limit
// for a moment, dropping the datagram that fitted.)
func TestTakeQueuedRefusalDoesNotCrowdOut(t *testing.T) {
	const limit, rounds = 1 << 20, 200000
	s := NewStack(nil)
	s.SetDatagramBytes(limit)
	if !s.takeQueued(limit - 1) {
		t.Fatal("the first datagram was dropped")
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	var bigOK, over atomic.Int64
	wg.Add(2)
	go func() { // dropped, over and over
		defer wg.Done()
		for !done.Load() {
			if s.takeQueued(2) {
				bigOK.Add(1)
			}
		}
	}()
	go func() { // reads the count, as QueuedDatagramBytes callers do
		defer wg.Done()
		for !done.Load() {
			if s.QueuedDatagramBytes() > limit {
				over.Add(1)
			}
		}
	}()
	one := []datagram{{data: make([]byte, 1)}}
	dropped := 0
	for range rounds {
		if !s.takeQueued(1) {
			dropped++
			continue
		}
		s.releaseQueued(one)
	}
	done.Store(true)
	wg.Wait()
	if dropped > 0 {
		t.Errorf("%d of %d one-byte datagrams that fitted were dropped", dropped, rounds)
	}
	if n := bigOK.Load(); n > 0 {
		t.Errorf("%d datagrams past the limit were counted", n)
	}
	if n := over.Load(); n > 0 {
		t.Errorf("QueuedDatagramBytes was past the limit %d times", n)
	}
	if got := s.QueuedDatagramBytes(); got != limit-1 {
		t.Errorf("the count ends at %d, want %d", got, limit-1)
	}
}
