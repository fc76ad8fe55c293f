package tlshost

import (
	"net"
	"testing"
	"time"
)

// enteringConn is a net.Conn that tells entered of each Write as it
// starts.
type enteringConn struct {
	net.Conn
	entered chan struct{}
}

func (c *enteringConn) Write(p []byte) (int, error) {
	c.entered <- struct{}{}
	return c.Conn.Write(p)
}

// TestAwaitWritesWakes: awaitWrites waits while a Write is in progress
// and returns when the last one returns, woken by it, well within its
// bound (an hour here: the guard below is a hang guard); with a Write that
// never returns, it returns at its bound. Two Writes block on a pipe whose
// other end reads one byte at a time.
func TestAwaitWritesWakes(t *testing.T) {
	ours, peer := net.Pipe()
	defer ours.Close()
	defer peer.Close()
	c := &enteringConn{Conn: ours, entered: make(chan struct{}, 2)}
	_, g := guarded(c)
	wrote := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := g.Write([]byte{1})
			wrote <- err
		}()
	}
	<-c.entered
	<-c.entered
	done := make(chan struct{})
	go func() {
		g.awaitWrites(time.Hour)
		close(done)
	}()
	var b [1]byte
	if _, err := peer.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	// One Write still in progress: awaitWrites must not have returned.
	time.Sleep(20 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("awaitWrites returned with a Write in progress")
	default:
	}
	if _, err := peer.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("awaitWrites has not returned 10 s after the last Write returned")
	}

	// A Write that never returns: awaitWrites returns at its bound.
	go g.Write([]byte{2})
	<-c.entered
	start := time.Now()
	g.awaitWrites(50 * time.Millisecond)
	if elapsed := time.Since(start); elapsed < 50*time.Millisecond {
		t.Fatalf("awaitWrites returned after %v with a Write in progress, want its bound, 50ms", elapsed)
	}
}
