package wasiio

import (
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// readersIn counts the goroutines whose stack holds fn.
func readersIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), fn)
}

// waitReaders waits, at most 5 s, until readersIn(fn) is want.
func waitReaders(t *testing.T, fn string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for readersIn(fn) != want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines in %s, want %d\n%s", readersIn(fn), fn, want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// socketStillReads checks that a, whose input stream was dropped, still
// carries bytes both ways: the read deadline that ended the stream's read
// was cleared.
func socketStillReads(t *testing.T, a, b net.Conn) {
	t.Helper()
	if _, err := a.Write([]byte("out")); err != nil {
		t.Fatalf("write after the drop: %v", err)
	}
	got := make([]byte, 3)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "out" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	// The peer stays silent a moment, then writes: a read deadline left in
	// the past would fail a's read at once.
	go func() {
		time.Sleep(20 * time.Millisecond)
		b.Write([]byte("in"))
	}()
	got = got[:2]
	if _, err := io.ReadFull(a, got); err != nil || string(got) != "in" {
		t.Fatalf("read after the drop: %q, %v", got, err)
	}
}

// TestDropEndsSocketRead: dropping a socket's input stream while a
// goroutine reads it for a wait beside other pollables (a timer) ends that
// read at once, though the peer is silent and the socket lives on; the
// socket then reads and writes as before.
func TestDropEndsSocketRead(t *testing.T) {
	t.Run("inline", func(t *testing.T) {
		a, b := tcpPair(t)
		in, out, _ := SocketStreams(a, nil, func() error { return nil })
		if _, ok := in.(*InlineInputStream); !ok {
			t.Skipf("%T: sockets are not inline on this platform", in)
		}
		const fn = "(*InlineInputStream).readOnce"
		base := readersIn(fn)
		// A wait on the stream and a timer: the stream's read runs on a
		// goroutine, left reading when the timer ends the wait.
		ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
		if _, err := Wait(ctx, []Source{in, NewSignal()}); err == nil {
			t.Fatal("wait ended with nothing ready")
		}
		cancel()
		waitReaders(t, fn, base+1)
		in.Close()
		waitReaders(t, fn, base)
		socketStillReads(t, a, b)
		out.Close()
	})
	t.Run("goroutine", func(t *testing.T) {
		a, b := tcpPair(t)
		in := newSocketInputStream(a, nil)
		const fn = "(*InputStream).run"
		base := readersIn(fn)
		if got, err := in.Read(bg, 10); len(got) != 0 || err != nil {
			t.Fatalf("read from a silent peer: %q, %v", got, err)
		}
		waitReaders(t, fn, base+1)
		in.Close()
		waitReaders(t, fn, base)
		socketStillReads(t, a, b)
	})
}

// TestDropEndsAwaitRead: a stream dropped while Await reads it (from
// another goroutine than the guest's: a transport's reader) ends that read,
// and the deadline is cleared after it.
func TestDropEndsAwaitRead(t *testing.T) {
	a, b := tcpPair(t)
	in, out, _ := SocketStreams(a, nil, func() error { return nil })
	il, ok := in.(*InlineInputStream)
	if !ok {
		t.Skipf("%T: sockets are not inline on this platform", in)
	}
	defer out.Close()
	done := make(chan bool)
	go func() { done <- il.Await(bg, time.Time{}) }()
	waitReaders(t, "(*InlineInputStream).Await", 1)
	time.Sleep(10 * time.Millisecond) // into the read, most likely
	il.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Await still reads after the drop")
	}
	socketStillReads(t, a, b)
}
