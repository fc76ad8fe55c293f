package wasiio

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// failedQueue is a silentQueue counting against a budget of 1 MiB: a
// write more than the socket takes leaves the flusher blocked in the
// socket with a chunk beyond the floor, counted against the budget,
// before the queue fails with "the peer is not reading", as inside a
// transport's ReadNow when the peer makes the engine write more than
// MaxUnsent. It returns the queue and its budget.
func failedQueue(t *testing.T) (*sendQueue, *UnsentBudget) {
	t.Helper()
	q, _ := silentQueue(t)
	b := NewUnsentBudget(1<<20, nil)
	q.budget = b
	if _, err := q.Write(make([]byte, 200<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return inflight(q) > UnsentFloor }, func() string {
		return fmt.Sprintf("the flusher holds %d bytes in flight, want more than the floor", inflight(q))
	})
	if b.Used() == 0 {
		t.Fatal("the chunk in flight is not counted against the budget")
	}
	q.now.Store(true)
	_, err := q.Write(make([]byte, MaxUnsent))
	q.now.Store(false)
	if err == nil || !strings.Contains(err.Error(), "the peer is not reading") {
		t.Fatalf("a write past MaxUnsent inside ReadNow: %v, want the peer is not reading", err)
	}
	return q, b
}

// inflight is what q's flusher is writing to the socket: 0 once it
// returned (it holds the queue's lock from then until it exits).
func inflight(q *sendQueue) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.inflight
}

// flusherEnds fails the test unless q's flusher returns from its write
// and gives its chunk back to b, within 10 s (a hang guard only: the
// linger is 30 s, and no Close set it).
func flusherEnds(t *testing.T, q *sendQueue, b *UnsentBudget) {
	t.Helper()
	waitFor(t, func() bool { return inflight(q) == 0 && b.Used() == 0 }, func() string {
		return fmt.Sprintf("the failed queue's flusher still writes %d bytes, the budget counts %d", inflight(q), b.Used())
	})
}

// A send queue that fails (the peer is not reading) ends its flusher's
// write in flight and gives its chunk back to the guest's budget at
// once. Before, the flusher stayed blocked in the socket with the chunk
// (20 KiB and more) counted against the budget until the socket closed
// or the linger passed (30 s by default): a peer reading nothing made a
// guest's connections fail one after another while each held its share
// of the guest's budget, the guest's other connections' writes held up
// meanwhile.
func TestSendQueueFailEndsFlush(t *testing.T) {
	q, b := failedQueue(t)
	flusherEnds(t, q, b)
	if n, err := q.Unsent(); n != 0 || err == nil {
		t.Fatalf("a failed queue reports %d bytes unsent, error %v", n, err)
	}
	released := make(chan struct{})
	q.Close(func() { close(released) })
	select {
	case <-released:
	case <-time.After(10 * time.Second): // a hang guard only
		t.Fatal("the failed queue's Close never released the socket")
	}
	if _, err := q.Write([]byte("x")); err == nil || errors.Is(err, net.ErrClosed) {
		t.Fatalf("a write to the failed queue: %v, want its failure", err)
	}
}

// A Close right after the failure, the flusher perhaps still in its
// write, sets no linger that would keep the write going: the socket is
// released as soon as the interrupted write returns.
func TestSendQueueCloseAfterFailReleases(t *testing.T) {
	q, b := failedQueue(t)
	released := make(chan struct{})
	q.Close(func() { close(released) })
	select {
	case <-released:
	case <-time.After(10 * time.Second): // a hang guard only, a third of the linger
		t.Fatal("the socket of a failed queue closed with its flusher in flight was not released")
	}
	flusherEnds(t, q, b)
}
