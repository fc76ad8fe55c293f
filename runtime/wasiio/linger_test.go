package wasiio

import (
	"bytes"
	"net"
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
	_, out, _ := SocketStreamsLinger(struct{ net.Conn }{a}, nil, func() error { released <- time.Now(); return nil }, linger)
	if out.backlog != nil {
		t.Fatal("want a goroutine stream over a connection without syscall.Conn")
	}
	chunk := bytes.Repeat([]byte("s"), WriteBudget)
	for written := 0; ; written += len(chunk) {
		n, err := out.CheckWrite(bg)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			// A write is in flight: the socket is full once it stays so.
			stalled := true
			for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if n, _ := out.CheckWrite(bg); n > 0 {
					stalled = false
					break
				}
			}
			if stalled {
				break
			}
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
