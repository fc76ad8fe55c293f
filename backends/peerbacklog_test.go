package backends_test

import (
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// toldConn is a transport that records what its PeerBacklogCounter is
// told, refusing more than limit.
type toldConn struct {
	net.Conn
	limit int64
	told  []int64
}

var errOver = errors.New("over the limit")

func (c *toldConn) HoldPeerBacklog(n int64) error {
	if n > c.limit {
		return errOver
	}
	c.told = append(c.told, n)
	return nil
}

// TestPeerBacklog: each change is told once, a refusal keeps what was
// told, Close tells 0 once, and nothing is told after it (a Read that
// returns after Close). Without a counter nothing is told and nothing
// fails.
func TestPeerBacklog(t *testing.T) {
	c := &toldConn{limit: 100}
	var b backends.PeerBacklog
	b.SetCounter(c)
	if !b.Counting() {
		t.Fatal("a PeerBacklogCounter transport: not counting")
	}
	for _, n := range []int64{0, 10, 10, 50} {
		if err := b.Hold(n); err != nil {
			t.Fatalf("Hold(%d) = %v", n, err)
		}
	}
	if err := b.Hold(200); !errors.Is(err, errOver) {
		t.Fatalf("Hold(200) = %v; want the counter's error", err)
	}
	if b.Held() != 50 {
		t.Fatalf("after a refusal Held = %d; want 50, what was told", b.Held())
	}
	b.Close()
	b.Close()
	if err := b.Hold(30); err != nil {
		t.Fatalf("Hold after Close = %v", err)
	}
	if want := []int64{10, 50, 0}; !slices.Equal(c.told, want) {
		t.Fatalf("told %v; want %v", c.told, want)
	}

	var none backends.PeerBacklog
	none.SetCounter(&net.TCPConn{})
	if none.Counting() || none.Hold(1<<40) != nil {
		t.Fatal("no counter: counting, or Hold failed")
	}
	none.Close()
}
