package wasiio

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// stuckBacklog is the backlog of a socket whose peer never reads: it
// always holds unsent bytes.
type stuckBacklog struct{}

func (stuckBacklog) Ready() bool          { return false }
func (stuckBacklog) Watch(*Waker)         {}
func (stuckBacklog) Unwatch(*Waker)       {}
func (stuckBacklog) Unsent() (int, error) { return 1, nil }

// A write deadline ends a transport's Write that waits for its output
// stream's earlier bytes to go out (an inline stream over a socket whose
// peer does not read: TLS tunnelled through TLS), as it ends a socket's:
// a deadline in the past is how the wasi:tls host interrupts a backend it
// gives up on. Before, the Write waited until the stream was dropped, and
// the host left the handshake's goroutine behind as if the backend had not
// returned.
func TestTransportWriteDeadlineEndsWaitForStream(t *testing.T) {
	for _, when := range []string{"during", "before"} {
		t.Run(when, func(t *testing.T) {
			out := NewInlineOutputStream(discard{}, stuckBacklog{}, nil)
			tr, err := Transport(NewInputStream(strings.NewReader(""), nil), out)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if when == "before" {
				tr.SetWriteDeadline(time.Now().Add(-time.Second))
			}
			done := make(chan error, 1)
			go func() {
				_, err := tr.Write([]byte("hello"))
				done <- err
			}()
			if when == "during" {
				// The Write waits (its wait's signal is made) before the
				// deadline moves: a fixed pause would, on a loaded
				// machine, move it before the Write began.
				c := tr.(*streamConn)
				for waiting, give := false, time.Now().Add(10*time.Second); !waiting; {
					if time.Now().After(give) {
						t.Fatal("the Write never began to wait for the stream")
					}
					select {
					case err := <-done:
						t.Fatalf("Write returned %v before the deadline", err)
					case <-time.After(time.Millisecond):
					}
					c.dmu.Lock()
					waiting = c.wchanged != nil
					c.dmu.Unlock()
				}
				tr.SetWriteDeadline(time.Unix(1, 0))
			}
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("Write: %v, want %v", err, os.ErrDeadlineExceeded)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a write deadline in the past did not end the Write waiting for the stream")
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// A send queue's Write waiting for room (more than MaxUnsent unsent: the
// peer reads nothing) ends at its deadline when the deadline moves during
// the wait, as a socket's Write does: earlier (the circl-pq engine cuts a
// handshake's write deadline to a second when its context ends), or later
// (the wait re-arms its timer when that fires early). Before, the wait
// kept the timer of the deadline it began with: moved earlier, the Write
// waited for the old one (an hour here); moved later, it woke at the old
// one and then waited with no timer at all, for as long as the peer read
// nothing.
func TestSendQueueWaitFollowsDeadline(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second time.Duration
	}{
		{"earlier", time.Hour, 20 * time.Millisecond},
		{"later", time.Second, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := stuckQueue(t)
			q.SetDeadline(time.Now().Add(tc.first))
			done := make(chan error, 1)
			go func() {
				_, err := q.Write(make([]byte, MaxUnsent))
				done <- err
			}()
			waitFor(t, func() bool { return q.waiting.Load() > 0 }, func() string {
				return "the Write never waited for room"
			})
			q.SetDeadline(time.Now().Add(tc.second))
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("Write: %v, want %v", err, os.ErrDeadlineExceeded)
				}
			case <-time.After(10 * time.Second): // a hang guard only
				t.Fatal("the Write waiting for room did not end at its moved deadline")
			}
		})
	}
}

// stuckQueue is a silentQueue holding MaxUnsent bytes less what the
// socket took: a Write of more than that waits for room.
func stuckQueue(t *testing.T) *sendQueue {
	t.Helper()
	q, a := silentQueue(t)
	if _, err := q.Write(make([]byte, MaxUnsent)); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Unsent(); n == 0 {
		t.Fatal("the socket took MaxUnsent bytes from a peer that reads nothing")
	}
	t.Cleanup(func() { q.Close(func() {}); a.Close() })
	return q
}
