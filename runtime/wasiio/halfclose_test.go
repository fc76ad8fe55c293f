//go:build unix

package wasiio

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// countingConn counts the half-closes that reach its socket while it is
// open: the shutdown(2) calls (after close the socket makes none).
type countingConn struct {
	*net.TCPConn
	mu         sync.Mutex
	closed     bool
	shutdowns  int
	closeCalls int
}

func (c *countingConn) CloseWrite() error {
	c.mu.Lock()
	if !c.closed {
		c.shutdowns++
	}
	c.mu.Unlock()
	return c.TCPConn.CloseWrite()
}

func (c *countingConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.closeCalls++
	c.mu.Unlock()
	return c.TCPConn.Close()
}

func (c *countingConn) counts() (shutdowns, closes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shutdowns, c.closeCalls
}

// laterTransport is a transport over a socket's streams, as the wasi:tls
// host gets it; the socket closes when its streams and closeSocket are
// done, as a guest's tcp-socket holds it.
func laterTransport(t *testing.T, a *net.TCPConn) (c *nonblockingConn, cc *countingConn, closeSocket func() error) {
	t.Helper()
	cc = &countingConn{TCPConn: a}
	refs := &sharedRefs{c: cc, n: 3}
	in, out, _ := SocketStreams(cc, refs, refs.Close)
	tc, err := Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	nb, ok := tc.(*nonblockingConn)
	if !ok {
		t.Fatalf("transport over a socket's streams is %T", tc)
	}
	return nb, cc, refs.Close
}

// peerEOF reads b until the end of the stream, which must come within d.
func peerEOF(t *testing.T, b net.Conn, want string, d time.Duration) {
	t.Helper()
	b.SetReadDeadline(time.Now().Add(d))
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("peer read %q, then %v", got, err)
	}
	if string(got) != want {
		t.Fatalf("peer read %q, want %q", got, want)
	}
}

// A deferred half-close is made by the transport's next read: the peer,
// which waits for the end of the stream before it answers, sees it while
// the socket stays open, and nothing before.
func TestCloseWriteLaterOnRead(t *testing.T) {
	a, b := tcpPair(t)
	c, cc, closeSocket := laterTransport(t, a)
	if _, err := c.Write([]byte("close_notify")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWriteLater(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("Write after CloseWriteLater succeeded")
	}
	got := make([]byte, 12)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "close_notify" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := b.Read(got); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("peer saw %v before the half-close was made", err)
	}
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer := make(chan error, 1)
	go func() {
		if _, err := io.ReadAll(b); err != nil {
			answer <- err
			return
		}
		_, err := b.Write([]byte("bye"))
		answer <- err
		b.Close()
	}()
	all, err := io.ReadAll(c) // the wait for the peer makes the half-close
	if err != nil || string(all) != "bye" {
		t.Fatalf("read %q, %v", all, err)
	}
	if err := <-answer; err != nil {
		t.Fatal(err)
	}
	c.Close()
	closeSocket()
	if s, n := cc.counts(); s != 1 || n != 1 {
		t.Fatalf("%d shutdowns and %d closes, want 1 and 1", s, n)
	}
}

// A deferred half-close that CompleteCloseWrite makes (the host's timer)
// shows the peer the end while the socket stays open; one that the
// socket's close comes before is never made: close(2) sends the end.
func TestCloseWriteLaterCompleteOrClose(t *testing.T) {
	t.Run("complete", func(t *testing.T) {
		a, b := tcpPair(t)
		c, cc, closeSocket := laterTransport(t, a)
		c.Write([]byte("end"))
		c.CloseWriteLater()
		c.Close() // the connection goes, the socket stays
		c.CompleteCloseWrite()
		peerEOF(t, b, "end", 5*time.Second)
		c.CompleteCloseWrite() // done already
		if s, n := cc.counts(); s != 1 || n != 0 {
			t.Fatalf("%d shutdowns and %d closes, want 1 and 0", s, n)
		}
		closeSocket()
	})
	t.Run("close", func(t *testing.T) {
		a, b := tcpPair(t)
		before := runtime.NumGoroutine()
		c, cc, closeSocket := laterTransport(t, a)
		c.Write([]byte("end"))
		c.CloseWriteLater()
		c.Close()
		closeSocket()
		peerEOF(t, b, "end", 5*time.Second)
		c.CompleteCloseWrite() // the host's timer, after the socket's close
		if s, n := cc.counts(); s != 0 || n != 1 {
			t.Fatalf("%d shutdowns and %d closes, want 0 and 1", s, n)
		}
		waitGoroutines(t, before)
	})
	t.Run("explicit", func(t *testing.T) {
		// The guest's own shutdown of the send side is not deferred.
		a, b := tcpPair(t)
		c, cc, closeSocket := laterTransport(t, a)
		c.Write([]byte("end"))
		c.CloseWriteLater()
		c.CloseWrite()
		peerEOF(t, b, "end", 5*time.Second)
		c.Close()
		closeSocket()
		if s, _ := cc.counts(); s != 1 {
			t.Fatalf("%d shutdowns, want 1", s)
		}
	})
}
