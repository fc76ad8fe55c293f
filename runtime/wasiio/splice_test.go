package wasiio

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// busyBacklog is a backlog whose unsent bytes the test sets; watched
// receives each Watch.
type busyBacklog struct {
	mu      sync.Mutex
	unsent  int
	waiters WaitList
	watched chan struct{}
}

func (q *busyBacklog) Unsent() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.unsent, nil
}

func (q *busyBacklog) set(n int) {
	q.mu.Lock()
	q.unsent = n
	q.mu.Unlock()
	q.waiters.WakeAll()
}

func (q *busyBacklog) Ready() bool { n, _ := q.Unsent(); return n == 0 }
func (q *busyBacklog) Watch(w *Waker) {
	q.waiters.Add(w)
	select {
	case q.watched <- struct{}{}:
	default:
	}
}
func (q *busyBacklog) Unwatch(w *Waker) { q.waiters.Remove(w) }

// engineSource is a TLS connection's cleartext as an inline stream reads
// it: its blocking read yields data and, as a TLS engine answering the
// peer's KeyUpdate does, leaves bytes of its own unsent in the backlog.
type engineSource struct {
	q    *busyBacklog
	data []byte
}

func (s *engineSource) Read(p []byte) (int, error) {
	s.q.set(100)
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

func (s *engineSource) ReadNow(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, ErrWouldBlock
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

func (s *engineSource) SetReadDeadline(time.Time) error { return nil }

// TestBlockingSpliceWaitsAgain: when the output stream stops accepting
// writes after blocking-splice's wait (the engine's own bytes unsent),
// blocking-splice waits again instead of returning 0, and moves the bytes
// once the backlog is out; a backlog that never drains ends with the
// call's context.
func TestBlockingSpliceWaitsAgain(t *testing.T) {
	t.Run("drains", func(t *testing.T) {
		q := &busyBacklog{watched: make(chan struct{}, 1)}
		var dst bytes.Buffer
		out := NewInlineOutputStream(&dst, q, nil)
		src := NewInlineInputStream(&engineSource{q: q, data: []byte("spliced")}, nil)
		go func() {
			// The second wait for the output drains the backlog.
			<-q.watched
			q.set(0)
		}()
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		n, err := out.BlockingSplice(ctx, src, 64)
		if err != nil || n == 0 {
			t.Fatalf("blocking-splice moved %d bytes, %v; want at least one", n, err)
		}
		if got := dst.String(); got != "spliced"[:n] {
			t.Fatalf("wrote %q after moving %d", got, n)
		}
	})
	t.Run("context", func(t *testing.T) {
		q := &busyBacklog{watched: make(chan struct{}, 1)}
		out := NewInlineOutputStream(&bytes.Buffer{}, q, nil)
		src := NewInlineInputStream(&engineSource{q: q, data: []byte("spliced")}, nil)
		ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
		defer cancel()
		defer func() {
			var ee *sys.ExitError
			if r := recover(); r == nil {
				t.Fatal("blocking-splice returned with the backlog never out")
			} else if err, ok := r.(error); !ok || !errors.As(err, &ee) {
				t.Fatalf("recovered %v, want the guest's exit", r)
			}
		}()
		n, err := out.BlockingSplice(ctx, src, 64)
		t.Fatalf("blocking-splice returned %d, %v", n, err)
	})
}
