package wasiio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/testnet"
)

var bg = context.Background()

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) { return testnet.TCPPair(t) }

// silentPair is tcpPair for a peer that reads nothing: a's send buffer
// and the peer's receive buffer are small (4 KiB), so that what a writes
// soon stays unsent.
func silentPair(t *testing.T) (a, peer *net.TCPConn) {
	t.Helper()
	a, peer = tcpPair(t)
	peer.SetReadBuffer(4096)
	a.SetWriteBuffer(4096)
	return a, peer
}

// silentQueue is a send queue over a (returned), one end of a
// silentPair whose peer closes when the test ends.
func silentQueue(t *testing.T) (*sendQueue, *net.TCPConn) {
	t.Helper()
	if !nonblockingCapable {
		t.Skip("send queues exist only where the platform allows non-blocking sockets")
	}
	a, _ := silentPair(t)
	raw, err := a.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return newSendQueue(a, raw, 0), a
}

func expectTrap(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		tr, ok := r.(*cabi.Trap)
		if !ok || !strings.Contains(tr.Msg, "budget") {
			t.Fatalf("recovered %v, want a budget trap", r)
		}
	}()
	f()
}

func TestWaitManySignals(t *testing.T) {
	const n = 10000
	sigs := make([]Source, n)
	for i := range sigs {
		sigs[i] = NewSignal()
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		sigs[7777].(*Signal).Fire()
	}()
	ready, err := Wait(bg, sigs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ready) != 1 || ready[0] != 7777 {
		t.Fatalf("ready = %v, want [7777]", ready)
	}
	for i, s := range sigs {
		if l := s.(*Signal).waiters.Len(); l != 0 {
			t.Fatalf("signal %d still has %d wakers after Wait", i, l)
		}
	}
}

func TestWaitReadyOnEntry(t *testing.T) {
	a, b := NewSignal(), NewSignal()
	b.Fire()
	ready, err := Wait(bg, []Source{a, b, Ready})
	if err != nil || len(ready) != 2 || ready[0] != 1 || ready[1] != 2 {
		t.Fatalf("ready = %v, %v", ready, err)
	}
}

// TestWaitDeadlines waits on deadlines: the wait wakes at the earliest and
// reports the deadlines that have passed, never one still ahead. When the
// waiting goroutine runs late (a loaded machine), a later deadline may have
// passed too by the time it looks: that one is reported as well, which the
// clock after the wait tells apart from a wait that overslept. A wait that
// always slept to a later deadline would never report the earliest alone:
// one of a few attempts must.
func TestWaitDeadlines(t *testing.T) {
	const attempts = 5
	for i := 0; i < attempts; i++ {
		if waitDeadlines(t) {
			return
		}
	}
	t.Fatalf("in %d attempts, no wait woke before the second deadline", attempts)
}

// waitDeadlines is one attempt of TestWaitDeadlines; it reports whether
// the first wait woke between the two near deadlines.
func waitDeadlines(t *testing.T) (onTime bool) {
	t.Helper()
	start := time.Now()
	far := NewDeadline(start.Add(time.Hour))
	near := NewDeadline(start.Add(50 * time.Millisecond))
	nearer := NewDeadline(start.Add(10 * time.Millisecond))
	ready, err := Wait(bg, []Source{far, near, nearer})
	woke := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if woke < 10*time.Millisecond {
		t.Fatalf("woke after %v, before the deadline", woke)
	}
	switch {
	case len(ready) == 1 && ready[0] == 2:
		onTime = true
	case len(ready) == 2 && ready[0] == 1 && ready[1] == 2 && woke >= 50*time.Millisecond:
		t.Logf("woke late (%v): both near deadlines had passed", woke)
	default:
		t.Fatalf("ready = %v after %v, want [2] (or [1 2] from 50ms on)", ready, woke)
	}
	// The second wait sleeps until the next deadline: no busy loop.
	ready, err = Wait(bg, []Source{far, near})
	if err != nil || len(ready) != 1 || ready[0] != 1 {
		t.Fatalf("ready = %v, %v", ready, err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("second wait woke after %v, before its deadline", d)
	}
	return onTime
}

func TestWaitContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(bg, 10*time.Millisecond)
	defer cancel()
	s := NewSignal()
	if _, err := Wait(ctx, []Source{s}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if s.waiters.Len() != 0 {
		t.Fatal("waker left registered")
	}
}

func TestInputStreamRead(t *testing.T) {
	pr, pw := io.Pipe()
	s := NewInputStream(pr, pr)
	defer s.Close()
	b, err := s.Read(bg, 10)
	if err != nil || len(b) != 0 {
		t.Fatalf("Read on empty stream = %q, %v", b, err)
	}
	go pw.Write([]byte("hello, world"))
	b, err = s.BlockingRead(bg, 5)
	if err != nil || string(b) != "hello" {
		t.Fatalf("BlockingRead = %q, %v", b, err)
	}
	if n, err := s.Skip(bg, 2); err != nil || n != 2 {
		t.Fatalf("Skip = %d, %v", n, err)
	}
	b, err = s.Read(bg, 100)
	if err != nil || string(b) != "world" {
		t.Fatalf("Read = %q, %v", b, err)
	}
	pw.Close()
	if _, err := s.BlockingRead(bg, 1); !IsClosed(err) {
		t.Fatalf("after EOF: %v, want ErrClosed", err)
	}
	if _, err := s.Read(bg, 0); !IsClosed(err) {
		t.Fatalf("Read(0) after EOF: %v, want ErrClosed", err)
	}
}

func TestInputStreamFailure(t *testing.T) {
	pr, pw := io.Pipe()
	s := NewInputStream(pr, pr)
	defer s.Close()
	pw.CloseWithError(errors.New("link down"))
	_, err := s.BlockingRead(bg, 1)
	if IsClosed(err) || err == nil || Cause(err).Error() != "link down" {
		t.Fatalf("err = %v, want a failure saying link down", err)
	}
	if _, err := s.Read(bg, 1); !IsClosed(err) {
		t.Fatalf("after a failure: %v, want ErrClosed", err)
	}
}

func TestInputStreamCloseStopsReader(t *testing.T) {
	before := runtime.NumGoroutine()
	pr, _ := io.Pipe()
	s := NewInputStream(pr, pr)
	s.Read(bg, 1) // starts the reader, which blocks in pr.Read
	p := s.Subscribe(bg)
	if p.Ready(bg) {
		t.Fatal("pollable ready with no data")
	}
	s.Close()
	if !p.Ready(bg) {
		t.Fatal("pollable of a dropped stream not ready")
	}
	waitGoroutines(t, before)
}

// waitGoroutines waits, up to 10 s, until at most want goroutines run. (It
// once gave up after 200 polls 5ms apart, about 1 s: what a loaded
// machine can take to run the goroutines that end.)
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if runtime.NumGoroutine() <= want {
			return
		}
	}
	t.Fatalf("goroutines: %d, want at most %d", runtime.NumGoroutine(), want)
}

// waitFor waits up to 10 s (a hang guard only) for ok, then fails t with
// what says.
func waitFor(t *testing.T, ok func() bool, what func() string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
	}
}

type slowWriter struct {
	gate chan struct{}
	buf  bytes.Buffer
	err  error
}

func (w *slowWriter) Write(p []byte) (int, error) {
	<-w.gate
	if w.err != nil {
		return 0, w.err
	}
	return w.buf.Write(p)
}

func TestOutputStreamBudget(t *testing.T) {
	w := &slowWriter{gate: make(chan struct{})}
	closed := false
	s := NewOutputStream(w, func() error { closed = true; return nil })
	n, err := s.CheckWrite(bg)
	if err != nil || n != WriteBudget {
		t.Fatalf("CheckWrite = %d, %v", n, err)
	}
	expectTrap(t, func() { s.Write(bg, make([]byte, WriteBudget+1)) })
	if err := s.Write(bg, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	p := s.Subscribe(bg)
	if n, _ := s.CheckWrite(bg); n != 0 || p.Ready(bg) {
		t.Fatalf("budget %d / ready %v with a write in flight", n, p.Ready(bg))
	}
	expectTrap(t, func() { s.Write(bg, []byte("d")) })
	expectTrap(t, func() { s.Write(bg, []byte("d")) })
	close(w.gate)
	if err := s.BlockingFlush(bg); err != nil {
		t.Fatal(err)
	}
	if err := s.BlockingWriteAndFlush(bg, bytes.Repeat([]byte("x"), 3*WriteBudget)); err != nil {
		t.Fatal(err)
	}
	if err := s.BlockingWriteZeroesAndFlush(bg, 2); err != nil {
		t.Fatal(err)
	}
	if got := w.buf.Len(); got != 3+3*WriteBudget+2 {
		t.Fatalf("wrote %d bytes", got)
	}
	s.Close()
	if !closed {
		t.Fatal("closeWrite not called")
	}
	if _, err := s.CheckWrite(bg); !IsClosed(err) {
		t.Fatalf("after close: %v", err)
	}
}

func TestOutputStreamFailure(t *testing.T) {
	w := &slowWriter{gate: make(chan struct{}), err: errors.New("broken pipe")}
	close(w.gate)
	s := NewOutputStream(w, nil)
	defer s.Close()
	if err := s.Write(bg, []byte("x")); err != nil {
		t.Fatal(err)
	}
	err := s.BlockingFlush(bg)
	if IsClosed(err) || err == nil || Cause(err).Error() != "broken pipe" {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.CheckWrite(bg); !IsClosed(err) {
		t.Fatalf("after failure: %v", err)
	}
}

func TestSplice(t *testing.T) {
	src := NewInputStream(bytes.NewReader([]byte("spliced bytes")), nil)
	var dst bytes.Buffer
	out := NewOutputStream(&dst, nil)
	total := uint64(0)
	for calls := 0; ; calls++ {
		if calls > 100 {
			t.Fatalf("13 bytes not spliced in %d calls (%d so far)", calls, total)
		}
		n, err := out.BlockingSplice(bg, src, 4)
		if IsClosed(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	out.BlockingFlush(bg)
	if dst.String() != "spliced bytes" || total != 13 {
		t.Fatalf("spliced %d: %q", total, dst.String())
	}
}

func TestTransportDirect(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	in := NewInputStream(a, nil)
	out := NewOutputStream(a, a.Close)
	c, err := Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	if !c.(*streamConn).direct || c.(*streamConn).conn != a {
		t.Fatal("untouched socket streams did not take the fast path")
	}
	go b.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	go c.Write([]byte("pong"))
	if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("peer read %q, %v", buf, err)
	}
	c.Close()
	if _, err := b.Read(buf); err == nil {
		t.Fatal("peer still open after transport close")
	}
}

func TestTransportAfterReadAhead(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	in := NewInputStream(a, nil)
	out := NewOutputStream(a, a.Close)
	go b.Write([]byte("early"))
	if got, err := in.BlockingRead(bg, 2); err != nil || string(got) != "ea" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := out.Write(bg, []byte("queued")); err != nil {
		t.Fatal(err)
	}
	c, err := Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 6)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "queued" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	go b.Write([]byte(" and late"))
	got = make([]byte, 12)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "rly and late" {
		t.Fatalf("read %q, %v", got, err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := c.Read(got); !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
		t.Fatalf("read past deadline: %v", err)
	}
	c.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestTransportDeadlineWakesRead: a read deadline moved into the past ends
// a Read in progress on a transport that reads through its stream (after
// a read-ahead), as it does on a socket. The wasi:tls host interrupts a
// backend's read this way when it gives up on a handshake.
func TestTransportDeadlineWakesRead(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	in := NewInputStream(a, nil)
	out := NewOutputStream(a, a.Close)
	go b.Write([]byte("x"))
	if got, err := in.BlockingRead(bg, 1); err != nil || string(got) != "x" {
		t.Fatalf("read %q, %v", got, err)
	}
	c, err := Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.(*streamConn).direct {
		t.Fatal("a stream that read ahead took the direct path")
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the Read block (a late deadline must end it too)
	c.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("read: %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second): // it ends at once; room for load
		t.Fatal("Read still blocked 10 s after its deadline moved into the past")
	}
}

// startCounter is a Starter that is never ready and counts its starts.
type startCounter struct {
	Signal
	starts int
}

func (s *startCounter) Start() { s.starts++ }

// A wait that returns at once because another source is ready (an expired
// timer) still starts a Starter among its sources: a guest's scheduler
// polls that way before it blocks, and the work must not wait for the
// blocking poll.
func TestWaitStartsStarters(t *testing.T) {
	s := &startCounter{}
	ready, err := Wait(context.Background(), []Source{s, NewDeadline(time.Now().Add(-time.Second))})
	if err != nil || len(ready) != 1 || ready[0] != 1 {
		t.Fatalf("Wait: %v, %v", ready, err)
	}
	if s.starts != 1 {
		t.Fatalf("%d starts, want 1", s.starts)
	}
	p := NewPollable(s, nil)
	if p.Ready(context.Background()) || s.starts != 2 {
		t.Fatalf("pollable.ready: %d starts, want 2", s.starts)
	}
}
