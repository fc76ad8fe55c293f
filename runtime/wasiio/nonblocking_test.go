//go:build unix

package wasiio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// nonblocking returns a non-blocking transport over a's streams, as the
// wasi:tls host gets it for a guest's socket: the socket closes when both
// streams are gone.
func nonblocking(t *testing.T, a net.Conn) NonblockingTransport {
	t.Helper()
	refs := &sharedRefs{c: a, n: 2}
	c, err := Transport(NewInputStream(a, refs), NewOutputStream(a, refs.Close))
	if err != nil {
		t.Fatal(err)
	}
	nb, ok := c.(NonblockingTransport)
	if !ok {
		t.Fatalf("a TCP socket's streams gave %T, not a non-blocking transport", c)
	}
	return nb
}

// sharedRefs closes c when Close was called n times.
type sharedRefs struct {
	mu sync.Mutex
	c  net.Conn
	n  int
}

func (r *sharedRefs) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n--; r.n == 0 {
		return r.c.Close()
	}
	return nil
}

func TestTransportReadNow(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	buf := make([]byte, 16)
	n, err := c.ReadNow(c, buf)
	if n != 0 || !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("ReadNow with nothing sent: %d, %v; want ErrWouldBlock", n, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !ne.Temporary() {
		t.Fatalf("ErrWouldBlock is not a temporary timeout: %#v", err)
	}
	b.Write([]byte("hello"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err = c.ReadNow(c, buf)
		if !errors.Is(err, ErrWouldBlock) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("ReadNow: %q, %v", buf[:n], err)
	}
	// Outside ReadNow, Read blocks as usual.
	go func() {
		time.Sleep(20 * time.Millisecond)
		b.Write([]byte("later"))
	}()
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "later" {
		t.Fatalf("blocking Read: %q, %v", buf[:n], err)
	}
	b.Close()
	for {
		n, err = c.ReadNow(c, buf)
		if !errors.Is(err, ErrWouldBlock) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if n != 0 || err != io.EOF {
		t.Fatalf("ReadNow after the peer closed: %d, %v; want io.EOF", n, err)
	}
}

// A peer that does not read makes the transport queue; everything arrives
// in order once it reads, Write never blocks, and the backlog reports what
// is unsent and becomes ready when it drained.
func TestTransportWriteQueuesInOrder(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	q := c.Backlog()
	rng := rand.New(rand.NewPCG(1, 2))
	var sent bytes.Buffer
	for sent.Len() < 8<<20 {
		p := make([]byte, 1+rng.IntN(64<<10))
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		start := time.Now()
		if n, err := c.Write(p); err != nil || n != len(p) {
			t.Fatalf("Write: %d, %v", n, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Write blocked for %v", d)
		}
		sent.Write(p)
		if n, _ := q.Unsent(); n > 0 {
			break // the socket is full: the queue holds the rest
		}
	}
	if n, err := q.Unsent(); n == 0 || err != nil || q.Ready() {
		t.Fatalf("after filling the socket: unsent %d, %v, ready %v; want bytes queued", n, err, q.Ready())
	}
	// Waiting on the backlog ends when the peer has read enough.
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(b, int64(sent.Len())))
		got <- b
	}()
	if _, err := Wait(bg, []Source{q}); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Unsent(); n != 0 || err != nil {
		t.Fatalf("backlog ready with %d unsent, %v", n, err)
	}
	if !bytes.Equal(<-got, sent.Bytes()) {
		t.Fatal("the peer read other bytes than were written")
	}
}

// Close keeps delivering what was accepted (close_notify, for TLS), then
// releases the socket; CloseWrite half-closes only after the queue drained.
func TestTransportCloseDelivers(t *testing.T) {
	a, b := tcpPair(t)
	before := runtime.NumGoroutine()
	c := nonblocking(t, a)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	copy(payload[len(payload)-7:], "the end")
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Backlog().Unsent(); n == 0 {
		t.Fatal("nothing queued: the test needs a larger payload")
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("Write after CloseWrite succeeded")
	}
	c.Close()
	all, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(all, payload) {
		t.Fatalf("peer read %d bytes ending %q; want %d ending \"the end\"", len(all), all[max(0, len(all)-7):], len(payload))
	}
	waitGoroutines(t, before) // the flusher is gone
}

// A write deadline in the past stops further Writes, as crypto/tls uses it
// after close_notify, but does not cut off bytes already accepted.
func TestTransportWriteDeadlineSparesQueue(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	payload := bytes.Repeat([]byte{7}, 4<<20)
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	c.SetWriteDeadline(time.Now())
	if _, err := c.Write([]byte("late")); !isTimeout(err) {
		t.Fatalf("Write past the deadline: %v", err)
	}
	c.Close()
	n, err := io.Copy(io.Discard, b)
	if err != nil || n != int64(len(payload)) {
		t.Fatalf("peer read %d, %v; want %d", n, err, len(payload))
	}
}

// Over MaxUnsent, Write blocks until the peer reads, as a socket would;
// inside ReadNow it fails instead, since blocking there would stall the
// guest.
func TestTransportUnsentLimit(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	chunk := make([]byte, 64<<10)
	for n := 0; n+len(chunk) <= MaxUnsent; {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
		n, _ = c.Backlog().Unsent()
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(chunk)
		wrote <- err
	}()
	select {
	case err := <-wrote:
		t.Fatalf("Write over MaxUnsent returned at once: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	go io.Copy(io.Discard, b)
	if err := <-wrote; err != nil {
		t.Fatalf("Write after the peer read: %v", err)
	}

	a2, _ := tcpPair(t)
	c2 := nonblocking(t, a2)
	var err error
	c2.ReadNow(readerFunc(func([]byte) (int, error) {
		for i := 0; i < 1000 && err == nil; i++ {
			_, err = c2.Write(chunk)
		}
		return 0, nil
	}), nil)
	if err == nil || !strings.Contains(err.Error(), "not reading") {
		t.Fatalf("writing inside ReadNow to a peer that never reads: %v", err)
	}
	if _, err := c2.Write(chunk); err == nil {
		t.Fatal("the failure is not sticky")
	}
	if _, err := c2.Backlog().Unsent(); err == nil || !c2.Backlog().Ready() {
		t.Fatalf("backlog after the failure: %v, ready %v", err, c2.Backlog().Ready())
	}
	c2.Close()
}

// countingSource is a transport as an InlineSource, counting ReadNow calls.
type countingSource struct {
	c        NonblockingTransport
	nowCalls int
}

func (s *countingSource) Read(p []byte) (int, error) { return s.c.Read(p) }

func (s *countingSource) ReadNow(p []byte) (int, error) {
	s.nowCalls++
	return s.c.ReadNow(s.c, p)
}

func (s *countingSource) SetReadDeadline(t time.Time) error { return s.c.SetReadDeadline(t) }

// An inline input stream reads on the caller's goroutine; only a wait
// starts a one-shot read, whose bytes come first, and reading returns to
// the caller afterwards.
func TestInlineInputStream(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	src := &countingSource{c: c}
	s := NewInlineInputStream(src, nil)
	defer s.Close()
	if got, err := s.Read(bg, 10); err != nil || len(got) != 0 {
		t.Fatalf("read with nothing sent: %q, %v", got, err)
	}
	if src.nowCalls != 1 {
		t.Fatalf("readNow called %d times, want 1", src.nowCalls)
	}
	b.Write([]byte("woken"))
	got, err := s.BlockingRead(bg, 3) // waits: a one-shot read takes "woken"
	if err != nil || string(got) != "wok" {
		t.Fatalf("blocking read: %q, %v", got, err)
	}
	if got, err := s.Read(bg, 10); err != nil || string(got) != "en" {
		t.Fatalf("read of the rest: %q, %v", got, err)
	}
	b.Write([]byte("inline"))
	// Each Read reads the socket inline; the bytes may reach it a little
	// after the peer's Write returned (on a loaded machine, later than
	// the 20ms this once slept for them), so read until they come.
	got = nil
	for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		before := src.nowCalls
		if got, err = s.Read(bg, 100); err != nil {
			t.Fatalf("inline read: %v", err)
		}
		if src.nowCalls == before {
			t.Fatal("the read did not run inline")
		}
		if len(got) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if string(got) != "inline" {
		t.Fatalf("inline read: %q", got)
	}
	// Paused, reads never run inline; a wait still delivers.
	s.PauseInline()
	b.Write([]byte("paused"))
	time.Sleep(20 * time.Millisecond)
	before := src.nowCalls
	if got, err := s.Read(bg, 100); err != nil || len(got) != 0 {
		t.Fatalf("paused read: %q, %v", got, err)
	}
	if got, err := s.BlockingRead(bg, 100); err != nil || string(got) != "paused" {
		t.Fatalf("paused blocking read: %q, %v", got, err)
	}
	if src.nowCalls != before {
		t.Fatal("a paused stream read inline")
	}
	b.Close()
	if _, err := s.BlockingRead(bg, 100); !IsClosed(err) {
		t.Fatalf("read after the peer closed: %v", err)
	}
}

// A blocking read on an inline stream returns what the wake-up read took
// and what the source holds besides, up to what was asked: one call, not
// one per wake-up chunk.
func TestInlineBlockingReadFills(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	s := NewInlineInputStream(&countingSource{c: c}, nil)
	defer s.Close()
	msg := bytes.Repeat([]byte("0123456789abcdef"), 512) // 8 KiB, 4 wake-up chunks
	if _, err := b.Write(msg); err != nil {
		t.Fatal(err)
	}
	awaitQueued(t, a, len(msg)) // all of it in the socket
	got, err := s.BlockingRead(bg, uint64(len(msg)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("one blocking read returned %d of the %d bytes at hand", len(got), len(msg))
	}
}

// An inline output stream writes on the caller's goroutine and grants a
// budget only when nothing is unsent.
func TestInlineOutputStream(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	s := NewInlineOutputStream(c, c.Backlog(), c.CloseWrite)
	if n, err := s.CheckWrite(bg); n != WriteBudget || err != nil {
		t.Fatalf("check-write: %d, %v", n, err)
	}
	written := fillInline(t, s)
	if s.Ready() {
		t.Fatal("stream ready with bytes unsent")
	}
	expectTrap(t, func() { s.Write(bg, []byte("over budget")) })
	done := make(chan int64)
	go func() {
		n, _ := io.Copy(io.Discard, b)
		done <- n
	}()
	if err := s.BlockingWriteAndFlush(bg, []byte("tail")); err != nil {
		t.Fatal(err)
	}
	s.Close() // half-closes after the queue drained
	if n := <-done; n != int64(written+4) {
		t.Fatalf("peer read %d bytes, want %d", n, written+4)
	}
}

// awaitCountingSource counts the blocking reads of an inline source.
type awaitCountingSource struct {
	countingSource
	reads atomic.Int32
}

func (s *awaitCountingSource) Read(p []byte) (int, error) {
	s.reads.Add(1)
	return s.countingSource.Read(p)
}

// Waiting on an inline stream beside other sources (a listener's, a
// signal) and a deadline blocks in the stream's source on the waiting
// goroutine, and the others' wake ends that read: the wait returns as
// soon as one of them is ready, against a silent peer, however late or
// early the wake comes; the stream is intact for the bytes that come
// after, and an ended read's request does not cut a later wait short.
func TestInlineInputStreamAwaitBeside(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	src := &awaitCountingSource{countingSource: countingSource{c: c}}
	s := NewInlineInputStream(src, nil)
	defer s.Close()

	start := time.Now()
	sig := NewSignal()
	time.AfterFunc(30*time.Millisecond, sig.Fire)
	ready, err := Wait(bg, []Source{s, sig, NewDeadline(start.Add(time.Minute))})
	if err != nil || len(ready) != 1 || ready[0] != 1 {
		t.Fatalf("wait beside a signal: %v, %v; want [1]", ready, err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > 5*time.Second {
		t.Fatalf("the signal ended the wait after %v", d)
	}
	s.mu.Lock()
	busy := s.busy
	s.mu.Unlock()
	if n := src.reads.Load(); n != 1 || busy {
		t.Fatalf("%d blocking reads, one still in flight: %v; want one, on the waiting goroutine, over", n, busy)
	}
	if sig.waiters.Len() != 0 {
		t.Fatal("waker left registered with the signal")
	}

	// A wake at any moment, before the read starts included.
	for i := range 200 {
		sig := NewSignal()
		go sig.Fire()
		start := time.Now()
		ready, err := Wait(bg, []Source{s, sig, NewDeadline(start.Add(time.Minute))})
		if err != nil || len(ready) != 1 || ready[0] != 1 {
			t.Fatalf("wait %d: %v, %v; want [1]", i, ready, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("wait %d: the signal ended the wait after %v", i, d)
		}
	}

	// A request to end an await that no longer runs does not end a
	// later wait before its deadline.
	s.EndAwait()
	start = time.Now()
	ready, err = Wait(bg, []Source{s, NewSignal(), NewDeadline(start.Add(30 * time.Millisecond))})
	if err != nil || len(ready) != 1 || ready[0] != 2 {
		t.Fatalf("wait until the deadline: %v, %v; want [2]", ready, err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("the wait ended after %v, before its deadline", d)
	}

	time.AfterFunc(20*time.Millisecond, func() { b.Write([]byte("beside")) })
	ready, err = Wait(bg, []Source{s, NewSignal(), NewDeadline(time.Now().Add(time.Minute))})
	if err != nil || len(ready) != 1 || ready[0] != 0 {
		t.Fatalf("wait for bytes: %v, %v; want [0]", ready, err)
	}
	readInline(t, s, "beside")
}

// readInline reads s until it has len(want) bytes, which must be want,
// failing the test if they take more than 10 s.
func readInline(t *testing.T, s *InlineInputStream, want string) {
	t.Helper()
	var got []byte
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("read %q in 10 s; the rest never came", got)
		}
		p, err := s.Read(bg, 100)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p...)
	}
	if string(got) != want {
		t.Fatalf("read %q", got)
	}
}

// Waiting on an inline stream alone blocks in the source on the waiting
// goroutine: a deadline ends the wait without harm to the stream, and so
// does the context.
func TestInlineInputStreamAwait(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	s := NewInlineInputStream(&countingSource{c: c}, nil)
	defer s.Close()
	before := runtime.NumGoroutine()
	start := time.Now()
	ready, err := Wait(bg, []Source{s, NewDeadline(start.Add(30 * time.Millisecond))})
	if err != nil || len(ready) != 1 || ready[0] != 1 {
		t.Fatalf("wait until the deadline: %v, %v; want [1]", ready, err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > 5*time.Second {
		t.Fatalf("the deadline ended the wait after %v", d)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("waiting started %d goroutines", n-before)
	}

	ctx, cancel := context.WithCancel(bg)
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := Wait(ctx, []Source{s}); err != context.Canceled {
		t.Fatalf("wait with a cancelled context: %v", err)
	}

	// The stream is intact: bytes sent now are read, with the wait
	// ending as they arrive.
	time.AfterFunc(20*time.Millisecond, func() { b.Write([]byte("after the timeouts")) })
	if ready, err := Wait(bg, []Source{s, NewDeadline(time.Now().Add(time.Minute))}); err != nil || len(ready) != 1 || ready[0] != 0 {
		t.Fatalf("wait for bytes: %v, %v; want [0]", ready, err)
	}
	readInline(t, s, "after the timeouts")

	// Two streams: each wait takes a goroutine read, and works as well.
	a2, b2 := tcpPair(t)
	c2 := nonblocking(t, a2)
	s2 := NewInlineInputStream(&countingSource{c: c2}, nil)
	defer s2.Close()
	time.AfterFunc(20*time.Millisecond, func() { b2.Write([]byte("two")) })
	if ready, err := Wait(bg, []Source{s, s2}); err != nil || len(ready) != 1 || ready[0] != 1 {
		t.Fatalf("wait on two streams: %v, %v; want [1]", ready, err)
	}
	if p, err := s2.Read(bg, 10); err != nil || string(p) != "two" {
		t.Fatalf("read %q, %v", p, err)
	}
}

// A socket's streams are inline: writes the socket does not take wait in
// the output stream's queue, a half-close and the release of the socket
// wait for them, and a transport over the streams shares that queue.
func TestSocketStreams(t *testing.T) {
	a, b := tcpPair(t)
	released := make(chan string, 2)
	in, out, closeWrite := SocketStreams(a,
		closerFunc(func() error { released <- "in"; return nil }),
		func() error { released <- "out"; return nil })
	if _, ok := in.(*InlineInputStream); !ok || out.backlog == nil {
		t.Fatal("a TCP socket's streams are not inline")
	}
	// Fill the socket, then queue more behind it.
	written := fillInline(t, out)
	if err := closeWrite(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	select {
	case who := <-released:
		t.Fatalf("%s released while bytes were unsent", who)
	default:
	}
	n, err := io.Copy(io.Discard, b) // ends with the half-close
	if err != nil || n != int64(written) {
		t.Fatalf("peer read %d bytes, %v; want %d", n, err, written)
	}
	if who := <-released; who != "out" {
		t.Fatalf("released %s, want out", who)
	}

	// Reading: inline, and a wait on the stream alone reads in place.
	b.Write([]byte("ping"))
	got, err := in.BlockingRead(bg, 10)
	if err != nil || string(got) != "ping" {
		t.Fatalf("blocking read: %q, %v", got, err)
	}
	in.Close()
	if who := <-released; who != "in" {
		t.Fatalf("released %s, want in", who)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// A transport over a socket's streams is non-blocking when the input stream
// holds nothing; bytes the guest left in the stream (read by a wait, not
// consumed) come first otherwise, and writes queue behind the guest's.
func TestSocketStreamsTransport(t *testing.T) {
	a, b := tcpPair(t)
	in, out, _ := SocketStreams(a, nil, a.Close)
	c, err := Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(NonblockingTransport); !ok {
		t.Fatalf("transport over untouched socket streams is %T", c)
	}
	c.Close()

	a2, b2 := tcpPair(t)
	in2, out2, _ := SocketStreams(a2, nil, a2.Close)
	b2.Write([]byte("early bytes"))
	if got, err := in2.BlockingRead(bg, 5); err != nil || string(got) != "early" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := out2.Write(bg, []byte("guest ")); err != nil {
		t.Fatal(err)
	}
	c2, err := Transport(in2, out2)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c2.(NonblockingTransport); ok {
		t.Fatal("a transport over a stream holding bytes reads the socket directly")
	}
	c2.Write([]byte("transport"))
	got := make([]byte, 15)
	if _, err := io.ReadFull(b2, got); err != nil || string(got) != "guest transport" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	b2.Write([]byte(" and late"))
	got = make([]byte, 15)
	if _, err := io.ReadFull(c2, got); err != nil || string(got) != " bytes and late" {
		t.Fatalf("transport read %q, %v", got, err)
	}
	c2.Close()
	if _, err := b2.Read(got); err != io.EOF {
		t.Fatalf("peer after the transport closed: %v", err)
	}
	_ = b
}

// A transport over an inline stream of another kind (the cleartext of a
// TLS connection, for TLS inside TLS) delivers what the stream holds
// first.
func TestTransportOverInlineStreamWithPending(t *testing.T) {
	a, b := tcpPair(t)
	src := &countingSource{c: nonblocking(t, a)}
	in := NewInlineInputStream(src, nil)
	out := NewOutputStream(io.Discard, nil)
	b.Write([]byte("early bytes"))
	if got, err := in.BlockingRead(bg, 5); err != nil || string(got) != "early" {
		t.Fatalf("read %q, %v", got, err)
	}
	c, err := Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	b.Write([]byte(" and late"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 15)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != " bytes and late" {
		t.Fatalf("transport read %q, %v", got, err)
	}
	c.Close()
}

// writeOrTrap is s.Write, with a trap reported as an error.
func writeOrTrap(s *OutputStream, p []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("trapped: %v", r)
		}
	}()
	return s.Write(bg, p)
}

// fillOwn writes through the transport c, on its own account, chunks of
// size until more than least bytes are unsent (the peer reads nothing),
// and returns how many it wrote.
func fillOwn(t *testing.T, c NonblockingTransport, size, least int) int {
	t.Helper()
	chunk := bytes.Repeat([]byte("o"), size)
	wrote := 0
	for {
		if n, _ := c.Backlog().Unsent(); n > least {
			return wrote
		}
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if wrote += size; wrote > 64<<20 {
			t.Fatal("the socket never filled")
		}
	}
}

// TestInlineWriteWithinPermit: what the transport of an inline output
// stream writes on its own account between the guest's check-write and
// its write (a TLS engine answering the peer's KeyUpdate while the guest
// reads, an alert), and leaves unsent to a peer that does not read, does
// not take the guest's permit: the write is accepted, without waiting,
// gathered by the stream and written after those bytes once they are out;
// once the permit is spent, a write traps as before. That holds when the
// queue has no room for the permitted bytes too (before, the write failed
// the stream then, as the transport's own writes inside ReadNow do).
// Before that, the stream was busy from the moment anything was unsent,
// and the guest's permitted write trapped: a peer that stopped reading
// and sent a KeyUpdate could kill a guest that checked, read, then wrote,
// as wasi:io lets it.
func TestInlineWriteWithinPermit(t *testing.T) {
	a, b := tcpPair(t)
	c := nonblocking(t, a)
	s := NewInlineOutputStream(c, c.Backlog(), c.CloseWrite)
	budget, err := s.CheckWrite(bg)
	if err != nil || budget == 0 {
		t.Fatalf("check-write: %d, %v", budget, err)
	}
	own := fillOwn(t, c, 1<<10, 0)
	mine := bytes.Repeat([]byte("m"), int(budget))
	if err := writeOrTrap(s, mine[:budget/2]); err != nil {
		t.Fatalf("a write within check-write's permit, after the transport's own bytes: %v", err)
	}
	if err := writeOrTrap(s, mine[budget/2:]); err != nil {
		t.Fatalf("the rest of the permit: %v", err)
	}
	expectTrap(t, func() { s.Write(bg, []byte("past the permit")) })
	if n, err := s.CheckWrite(bg); n != 0 || err != nil {
		t.Fatalf("check-write with bytes unsent: %d, %v", n, err)
	}
	// The peer gets the transport's bytes, then the guest's.
	got := make([]byte, own+len(mine))
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:own], bytes.Repeat([]byte("o"), own)) || !bytes.Equal(got[own:], mine) {
		t.Fatal("the peer did not get the transport's bytes, then the guest's")
	}

	// No room in the queue for the permit: the write is accepted at once
	// all the same, gathered by the stream, and the peer gets it after
	// the transport's bytes once it reads.
	a2, b2 := tcpPair(t)
	c2 := nonblocking(t, a2)
	s2 := NewInlineOutputStream(c2, c2.Backlog(), c2.CloseWrite)
	if n, err := s2.CheckWrite(bg); n != WriteBudget || err != nil {
		t.Fatalf("check-write: %d, %v", n, err)
	}
	own2 := fillOwn(t, c2, 16<<10, MaxUnsent-WriteBudget)
	done := make(chan error, 1)
	mine2 := bytes.Repeat([]byte("n"), WriteBudget)
	go func() { done <- writeOrTrap(s2, mine2) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("a permitted write the queue has no room for: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a permitted write the queue has no room for waits for the peer")
	}
	if held, _ := c2.Backlog().Unsent(); held > MaxUnsent {
		t.Fatalf("the queue holds %d bytes, more than MaxUnsent", held)
	}
	got = make([]byte, own2+len(mine2))
	b2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(b2, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:own2], bytes.Repeat([]byte("o"), own2)) || !bytes.Equal(got[own2:], mine2) {
		t.Fatal("the peer did not get the transport's bytes, then the guest's")
	}
	s2.Close()
}

// TestInlineGatheredDropNeverWaits: dropping an inline output stream that
// holds gathered bytes behind a queue with no room for them, to a peer
// that reads nothing, returns at once: the bytes are lost, as a write in
// flight at a drop may be, rather than wait on the guest's call for the
// peer. With room, they go out before what the drop sends.
func TestInlineGatheredDropNeverWaits(t *testing.T) {
	a, _ := tcpPair(t)
	c := nonblocking(t, a)
	s := NewInlineOutputStream(c, c.Backlog(), c.CloseWrite)
	if n, err := s.CheckWrite(bg); n != WriteBudget || err != nil {
		t.Fatalf("check-write: %d, %v", n, err)
	}
	fillOwn(t, c, 16<<10, MaxUnsent-WriteBudget)
	if err := writeOrTrap(s, make([]byte, WriteBudget)); err != nil {
		t.Fatalf("a permitted write: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("dropping the stream waits for a peer that does not read")
	}
	if held, _ := c.Backlog().Unsent(); held > MaxUnsent {
		t.Fatalf("the queue holds %d bytes, more than MaxUnsent", held)
	}

	// Room for them: the peer gets the transport's bytes, the gathered
	// ones, then the end of the stream.
	a2, b2 := tcpPair(t)
	c2 := nonblocking(t, a2)
	s2 := NewInlineOutputStream(c2, c2.Backlog(), c2.CloseWrite)
	if _, err := s2.CheckWrite(bg); err != nil {
		t.Fatal(err)
	}
	own := fillOwn(t, c2, 1<<10, 0)
	if err := writeOrTrap(s2, []byte("gathered")); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	b2.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(b2)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("o", own) + "gathered"; string(got) != want {
		t.Fatalf("the peer read %d bytes ending %q, want %d ending %q", len(got), got[max(0, len(got)-8):], len(want), want[len(want)-8:])
	}
}
