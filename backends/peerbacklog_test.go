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

// aheadConn is a transport whose ReadAheadCounter records what it is
// told in c, refusing more than c.limit; it is no PeerBacklogCounter.
type aheadConn struct {
	net.Conn
	c *toldConn
}

func (a aheadConn) HoldReadAhead(n int64) error { return a.c.HoldPeerBacklog(n) }

// count is what PeerBacklog and ReadAhead have in common.
type count interface {
	SetCounter(net.Conn)
	Counting() bool
	Held() int64
	Hold(int64) error
	Close()
}

// TestPeerBacklog: each change is told once, a refusal keeps what was
// told, Close tells 0 once, and nothing is told after it (a Read that
// returns after Close). Without a counter nothing is told and nothing
// fails. A ReadAhead tells a transport's ReadAheadCounter the same way,
// and each takes the transport's counter of its own kind only.
func TestPeerBacklog(t *testing.T) {
	for _, tc := range []struct {
		name      string
		b, other  count
		transport func(*toldConn) net.Conn
	}{
		{"PeerBacklog", new(backends.PeerBacklog), new(backends.ReadAhead), func(c *toldConn) net.Conn { return c }},
		{"ReadAhead", new(backends.ReadAhead), new(backends.PeerBacklog), func(c *toldConn) net.Conn { return aheadConn{c: c} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &toldConn{limit: 100}
			b := tc.b
			b.SetCounter(tc.transport(c))
			if !b.Counting() {
				t.Fatal("a transport with the counter: not counting")
			}
			if tc.other.SetCounter(tc.transport(c)); tc.other.Counting() {
				t.Fatal("a transport with the other kind's counter only: counting")
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

			none := tc.other
			none.SetCounter(&net.TCPConn{})
			if none.Counting() || none.Hold(1<<40) != nil {
				t.Fatal("no counter: counting, or Hold failed")
			}
			none.Close()
		})
	}
}
