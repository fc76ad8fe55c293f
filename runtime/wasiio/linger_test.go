package wasiio

import (
	"bytes"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSocketStreamsLinger: a dropped output stream whose peer reads
// nothing holds the socket, its unsent bytes queued, for the linger it
// was made with and releases it then; the default is DefaultSendLinger.
func TestSocketStreamsLinger(t *testing.T) {
	if !nonblockingCapable {
		t.Skip("the streams are inline only where the platform allows non-blocking sockets")
	}
	const linger = 200 * time.Millisecond
	a, _ := tcpPair(t) // the peer never reads
	released := make(chan time.Time, 1)
	_, out, _ := SocketStreamsLinger(a, nil, func() error { released <- time.Now(); return nil }, linger)
	if out.backlog.(*sendQueue).linger != linger {
		t.Fatalf("linger %v, want %v", out.backlog.(*sendQueue).linger, linger)
	}
	fillInline(t, out)
	dropAndWantLinger(t, out, released, linger, "with bytes unsent")

	b, _ := tcpPair(t)
	_, out2, _ := SocketStreams(b, nil, b.Close)
	if got := out2.backlog.(*sendQueue).linger; got != DefaultSendLinger {
		t.Errorf("SocketStreams' linger %v, want DefaultSendLinger (%v)", got, DefaultSendLinger)
	}
	out2.Close()
}

// TestSocketStreamsLingerGoroutine: where sockets cannot be non-blocking
// (forced here by hiding the socket's syscall.Conn), a socket's output
// stream is a goroutine stream; dropped with a write in flight to a peer
// that reads nothing, it holds the socket for the linger it was made with
// and no longer: the write fails at the deadline, the writer goroutine
// ends and closeOut runs. Before, closeOut ran at once and the goroutine
// stayed blocked in the write for as long as the guest held the socket.
func TestSocketStreamsLingerGoroutine(t *testing.T) {
	const linger = 200 * time.Millisecond
	a, _ := tcpPair(t) // the peer never reads
	released := make(chan time.Time, 1)
	c := &lingerConn{a}
	_, out, _ := SocketStreamsLinger(c, nil, func() error { released <- time.Now(); return nil }, linger)
	if out.backlog != nil {
		t.Fatal("want a goroutine stream over a connection without syscall.Conn")
	}
	chunk := bytes.Repeat([]byte("s"), WriteBudget)
	for written := 0; ; written += len(chunk) {
		n, err := out.CheckWrite(bg)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && waitWriteParked(t, out) {
			break // the socket is full: the write in flight waits for room
		}
		if err := out.Write(bg, chunk); err != nil {
			t.Fatal(err)
		}
		if written > 64<<20 {
			t.Fatal("the socket never filled")
		}
	}
	dropAndWantLinger(t, out, released, linger, "with a write in flight")
	// The write in flight ended: the writer goroutine is gone.
	out.mu.Lock()
	inflight := out.inflight != nil
	out.mu.Unlock()
	if inflight {
		t.Error("the write in flight outlived the linger")
	}

	b, _ := tcpPair(t)
	_, out2, _ := SocketStreams(struct{ net.Conn }{b}, nil, b.Close)
	if out2.linger != DefaultSendLinger {
		t.Errorf("SocketStreams' goroutine stream linger %v, want DefaultSendLinger (%v)", out2.linger, DefaultSendLinger)
	}
	out2.Close()
}

// fillInline writes WriteBudget chunks to the inline stream s, each its
// check-write allows, until the socket is full (check-write says 0), and
// returns how many bytes it wrote; past 64 MiB the test fails.
func fillInline(t *testing.T, s *OutputStream) int {
	t.Helper()
	chunk := bytes.Repeat([]byte("s"), WriteBudget)
	written := 0
	for {
		n, err := s.CheckWrite(bg)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return written // the socket is full
		}
		if err := s.Write(bg, chunk); err != nil {
			t.Fatal(err)
		}
		written += len(chunk)
		if written > 64<<20 {
			t.Fatal("the socket never filled")
		}
	}
}

// dropAndWantLinger drops out and checks that the socket is released, as
// released reports, once linger has passed since the drop and within 5 s
// of it; held says what the socket still held.
func dropAndWantLinger(t *testing.T, out *OutputStream, released <-chan time.Time, linger time.Duration, held string) {
	t.Helper()
	dropped := time.Now()
	out.Close()
	select {
	case at := <-released:
		if d := at.Sub(dropped); d < linger {
			t.Errorf("the socket was released %v after the drop, before its linger of %v, %s", d, linger, held)
		}
	case <-time.After(linger + 5*time.Second):
		t.Fatalf("the socket was not released within %v of its linger of %v", 5*time.Second, linger)
	}
}

// A lingerConn hides its socket's syscall.Conn, so that SocketStreams
// makes a goroutine stream over it; its own Write method names it in the
// stack of the goroutine that writes to it (writeParked).
type lingerConn struct{ net.Conn }

func (c *lingerConn) Write(p []byte) (int, error) { return c.Conn.Write(p) }

// waitWriteParked waits, while out has a write in flight to a
// lingerConn, until that write completes (false) or is parked waiting for
// room in the socket (true); it fails t after 10 s of neither.
//
// That a write to a peer that reads nothing will not complete is not a
// matter of time: a write still in flight after a while may only be
// waiting for its goroutine to run (on a loaded machine, for hundreds of
// milliseconds), and one that has room completes then, before or just
// after the drop. A write parked in the poller has found the socket full
// (the kernel took what fit and refused the rest), and it is woken only
// once a good part of the bytes queued has left, which a peer that reads
// nothing never lets happen: it stays until its deadline.
func waitWriteParked(t *testing.T, out *OutputStream) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if n, _ := out.CheckWrite(bg); n > 0 {
			return false
		}
		if writeParked() {
			return true
		}
		if time.Now().After(deadline) {
			t.Fatal("a write in flight neither completed nor waited for room in 10 s")
		}
	}
}

// writeParked reports whether a goroutine is parked in the poller ([IO
// wait]) in a write to a lingerConn (the test's only one: tracebacks
// cannot be trusted to print the receiver): the socket took what it had
// room for, and the write waits for the rest to fit.
func writeParked() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "[IO wait") && strings.Contains(g, "(*FD).Write(") && strings.Contains(g, "wasiio.(*lingerConn).Write(") {
			return true
		}
	}
	return false
}
