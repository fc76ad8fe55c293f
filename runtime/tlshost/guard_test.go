package tlshost

import (
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// gatedConn is a net.Conn whose every Write waits for a token of gate.
type gatedConn struct {
	net.Conn
	gate chan struct{}
}

func (c *gatedConn) Write(p []byte) (int, error) {
	<-c.gate
	return len(p), nil
}

// TestAwaitWritesWakes: awaitWrites waits while a Write is in progress
// and returns when the last one returns, woken by it: no time passes on
// the bubble's clock, and it has returned by the time everything else is
// blocked again (before, it slept 50 us doubling to 5 ms between looks at
// the count, and was still asleep then). With a Write that never returns,
// it returns at its bound. Two Writes wait for a gate that lets one
// through at a time.
func TestAwaitWritesWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &gatedConn{gate: make(chan struct{})}
		// Lets the Write that never returns below go at the end.
		defer close(c.gate)
		_, g := guarded(c)
		wrote := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := g.Write([]byte{1})
				wrote <- err
			}()
		}
		synctest.Wait()
		if n := g.writing.Load(); n != 2 {
			t.Fatalf("%d Writes in progress, want 2", n)
		}
		start := time.Now()
		done := make(chan struct{})
		go func() {
			g.awaitWrites(time.Hour)
			close(done)
		}()
		readOne := func() {
			c.gate <- struct{}{}
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		readOne()
		select {
		case <-done:
			t.Fatal("awaitWrites returned with a Write in progress")
		default:
		}
		readOne()
		select {
		case <-done:
		default:
			t.Fatal("awaitWrites had not returned when the last Write returned and all else waited")
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("awaitWrites returned %v after it started, want at once", d)
		}

		// A Write that never returns (until the test ends):
		// awaitWrites returns at its bound.
		go g.Write([]byte{2})
		synctest.Wait()
		start = time.Now()
		g.awaitWrites(50 * time.Millisecond)
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Fatalf("awaitWrites returned after %v with a Write in progress, want its bound, 50ms", d)
		}
	})
}
