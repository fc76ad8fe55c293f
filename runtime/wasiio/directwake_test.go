//go:build unix

package wasiio

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// gatedRaw is a socket's RawConn whose writes wait for release after
// telling entered: a direct write of a send queue is then in flight for
// as long as the test wants.
type gatedRaw struct {
	syscall.RawConn
	entered chan struct{}
	release chan struct{}
}

func (r *gatedRaw) Write(f func(fd uintptr) bool) error {
	r.entered <- struct{}{}
	<-r.release
	return r.RawConn.Write(f)
}

// gated is c's RawConn, its writes gated (gatedRaw).
func gated(t *testing.T, c *net.TCPConn) *gatedRaw {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return &gatedRaw{RawConn: raw, entered: make(chan struct{}), release: make(chan struct{})}
}

// A wait for a send queue to be idle (an inline output stream's
// readiness, and what a transport over that stream waits for before it
// writes: TLS tunnelled through TLS) that starts while a direct write is
// in flight ends when that write completes. Before, a direct write that
// the socket took whole woke nobody: the wait went on until the queue
// next changed, which for a connection closed meanwhile (its
// close_notify was the write) was never, and a tunnelled handshake hung
// until the host's handshake timeout.
func TestSendQueueDirectWriteWakes(t *testing.T) {
	c, _ := tcpPair(t)
	g := gated(t, c)
	q := newSendQueue(c, g, 0)
	wrote := make(chan error, 1)
	go func() {
		_, err := q.Write([]byte("close_notify"))
		wrote <- err
	}()
	<-g.entered
	if q.Ready() {
		t.Fatal("the queue is ready with a write in flight")
	}
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := Wait(ctx, []Source{q})
		waited <- err
	}()
	// The wait is registered (or returns at once, which is fine too)
	// before the write completes.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if q.waiters.Len() > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(g.release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if !q.Ready() {
		t.Fatal("the queue is not ready once its write completed")
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("the wait ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait for an idle queue did not end when the direct write completed")
	}
}

// A Close of a send queue while a direct write is in flight (the
// wasi:tls host closing a dropped connection's transport while the
// handshake writes its ClientHello) defers the release of the socket to
// the write's end, and the release has run when that Write returns: its
// caller, the host waiting for the writes of a dropped connection, may
// tell the guest the socket is gone. Before, the release ran on a
// goroutine of its own after the Write returned, and a guest that dropped
// a connection and dialled again at once under its socket limit was
// refused. The Write's goroutine is the only one that can run (one P), so
// a release left to another goroutine has not run when it looks.
func TestSendQueueCloseReleasesByWriteReturn(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c, _ := tcpPair(t)
	g := gated(t, c)
	q := newSendQueue(c, g, 0)
	var released atomic.Int32
	type result struct {
		err      error
		released int32
	}
	wrote := make(chan result, 1)
	go func() {
		_, err := q.Write([]byte("client hello"))
		wrote <- result{err, released.Load()}
	}()
	<-g.entered
	q.Close(func() { released.Add(1) })
	if n := released.Load(); n != 0 {
		t.Fatalf("Close released the socket %d times with a write in flight", n)
	}
	close(g.release)
	r := <-wrote
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.released != 1 {
		t.Fatalf("when the write in flight at Close returned, the socket was released %d times, want 1", r.released)
	}
	if n := released.Load(); n != 1 {
		t.Fatalf("the socket was released %d times, want 1", n)
	}
}

// refusedRest writes more than a real loopback socket whose peer reads
// nothing takes through a send queue under a spent unsent budget (the
// guest's other sockets hold their share), runs during while that write
// is in flight as a direct write, then lets the socket take a part of
// it, the budget refusing the rest. It returns the Write's count, the
// value of released when the Write returned, and the peer.
func refusedRest(t *testing.T, during func(*sendQueue), released *atomic.Int32) (n int, releasedThen int32, peer *net.TCPConn) {
	t.Helper()
	a, peer := silentPair(t)
	g := gated(t, a)
	q := newSendQueue(a, g, 0)
	q.budget = NewUnsentBudget(0, nil)
	type result struct {
		n        int
		err      error
		released int32
	}
	wrote := make(chan result, 1)
	p := make([]byte, 8<<20) // more than the socket's buffers take
	go func() {
		n, err := q.Write(p)
		wrote <- result{n, err, released.Load()}
	}()
	<-g.entered
	during(q)
	close(g.release)
	var r result
	select {
	case r = <-wrote:
	case <-time.After(10 * time.Second): // a hang guard only
		t.Fatal("the Write did not return")
	}
	if r.n == len(p) || r.err == nil {
		t.Fatalf("the Write took %d of %d bytes with error %v, want a part and the refusal of the rest", r.n, len(p), r.err)
	}
	if q.budget.Used() != 0 {
		t.Errorf("the budget counts %d bytes of a queue that holds none", q.budget.Used())
	}
	return r.n, r.released, peer
}

// A Close of a send queue while a direct write is in flight, the socket
// taking part of the write and the guest's unsent budget refusing the
// rest (a guest whose other sockets hold their share of unsent bytes
// drops a TLS connection while its server flight is being written), still
// releases the socket when that Write returns. Before, the Write failed
// for want of room and left the release Close had deferred to it never
// run: the socket stayed open and counted against the guest's socket
// limit for good.
func TestSendQueueCloseReleasesWhenRemainderRefused(t *testing.T) {
	var released atomic.Int32
	_, then, _ := refusedRest(t, func(q *sendQueue) { q.Close(func() { released.Add(1) }) }, &released)
	if then != 1 {
		t.Fatalf("when the Write whose rest was refused returned, the socket was released %d times, want 1", then)
	}
}

// So too a CloseWrite: the peer gets the end of the stream once the
// Write whose rest was refused returned. Before, the half-close deferred
// to that Write was never made, and the peer waited for the end for as
// long as the connection lived.
func TestSendQueueCloseWriteWhenRemainderRefused(t *testing.T) {
	var released atomic.Int32
	n, _, peer := refusedRest(t, func(q *sendQueue) { q.CloseWrite() }, &released)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard only
	got, err := io.Copy(io.Discard, peer)
	if err != nil {
		t.Fatalf("the peer read %d of the %d bytes the socket took, then %v; want the end of the stream", got, n, err)
	}
	if got != int64(n) {
		t.Errorf("the peer read %d bytes, the socket took %d", got, n)
	}
}
