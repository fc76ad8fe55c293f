package wasiio

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testpki"
)

// spentTLSPair is, for a TLS client over inline streams, a loopback
// socket with small buffers (the peer's socket fills soon) whose unsent
// budget b is spent, tc its transport, peer the other end, and a CA with
// a leaf for the peer's server. It skips where the streams are not
// inline.
func spentTLSPair(t *testing.T) (tc net.Conn, peer *net.TCPConn, b *UnsentBudget, ca *testpki.CA, leaf *testpki.Leaf) {
	t.Helper()
	if !nonblockingCapable {
		t.Skip("the streams are inline only where the platform allows non-blocking sockets")
	}
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err = ca.Issue(testpki.LeafOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, peer := silentPair(t)
	b = NewUnsentBudget(0, nil) // spent
	in, out, _ := SocketStreamsBudget(a, nil, a.Close, 0, b)
	if tc, err = Transport(in, out); err != nil {
		t.Fatal(err)
	}
	return tc, peer, b, ca, leaf
}

// writableAgain fails the test unless s, held by a peer that did not
// read, becomes ready within 10 s of the peer reading, and check-write
// then grants room.
func writableAgain(t *testing.T, s *OutputStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	if _, err := Wait(ctx, []Source{s}); err != nil {
		t.Fatalf("the stream never became ready once the peer read: %v", err)
	}
	if n, err := s.CheckWrite(bg); n == 0 || err != nil {
		t.Fatalf("check-write once the peer read: %d, %v", n, err)
	}
}

// fillPermits writes to s, within each permit check-write grants, until
// check-write grants nothing (the peer reads nothing: the socket is full
// and the queue holds the rest). It returns the smallest permit granted.
func fillPermits(t *testing.T, s *OutputStream) uint64 {
	t.Helper()
	chunk := bytes.Repeat([]byte("u"), WriteBudget)
	least := uint64(WriteBudget)
	for written := 0; ; {
		n, err := s.CheckWrite(bg)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return least
		}
		least = min(least, n)
		if err := s.Write(bg, chunk[:n]); err != nil {
			t.Fatal(err)
		}
		if written += int(n); written > 64<<20 {
			t.Fatal("the socket never filled")
		}
	}
}

func budgetStreams(t *testing.T, b *UnsentBudget, linger time.Duration, closeOut func() error) (*OutputStream, *sendQueue, *net.TCPConn) {
	t.Helper()
	if !nonblockingCapable {
		t.Skip("the streams are inline only where the platform allows non-blocking sockets")
	}
	a, peer := tcpPair(t)
	if closeOut == nil {
		closeOut = a.Close
	}
	_, out, _ := SocketStreamsBudget(a, nil, closeOut, linger, b)
	return out, out.backlog.(*sendQueue), peer
}

// TestUnsentBudgetBackpressure: connections to peers that never read hold
// at most their floors plus the budget together; once it is spent,
// check-write grants what a floor covers (16 KiB, a full TLS record)
// rather than nothing, a write beyond that traps, the shortage is
// reported, and a peer that starts reading lets its connection go on.
func TestUnsentBudgetBackpressure(t *testing.T) {
	const limit, n = 96 << 10, 8
	var refused atomic.Int32
	b := NewUnsentBudget(limit, func() { refused.Add(1) })
	var outs []*OutputStream
	var qs []*sendQueue
	var peers []*net.TCPConn
	for range n {
		out, q, peer := budgetStreams(t, b, 0, nil)
		least := fillPermits(t, out)
		if least < 16<<10 {
			t.Errorf("a permit of %d bytes, want at least the 16 KiB a floor covers", least)
		}
		outs, qs, peers = append(outs, out), append(qs, q), append(peers, peer)
	}
	held := 0
	for _, q := range qs {
		h, _ := q.Unsent()
		held += h
	}
	if used := b.Used(); used > limit || used < 0 {
		t.Errorf("the budget counts %d bytes, want 0 to %d", used, limit)
	}
	if held > n*UnsentFloor+limit {
		t.Errorf("%d connections hold %d bytes unsent, more than their floors and the budget (%d)", n, held, n*UnsentFloor+limit)
	}
	t.Logf("%d connections hold %d bytes unsent; the budget counts %d of %d", n, held, b.Used(), limit)

	// Spend the budget: permits' reservations take what is left, until
	// one grants what the floor alone covers.
	refusedBefore := refused.Load()
	var spenders []*OutputStream
	var fresh *OutputStream
	var got uint64
	for range 4 {
		s, _, _ := budgetStreams(t, b, 0, nil)
		spenders = append(spenders, s)
		n, err := s.CheckWrite(bg)
		if err != nil {
			t.Fatal(err)
		}
		if fresh, got = s, n; n < WriteBudget {
			break
		}
	}
	if b.Used() == limit {
		fresh, _, _ = budgetStreams(t, b, 0, nil)
		spenders = append(spenders, fresh)
		got, _ = fresh.CheckWrite(bg)
		if got != 16<<10 {
			t.Errorf("check-write with the budget spent: %d; want the floor's 16384", got)
		}
	} else {
		t.Errorf("the budget counts %d of %d once permits shrank", b.Used(), limit)
	}
	if refused.Load() == refusedBefore {
		t.Error("a permit shrank and the budget reported no shortage")
	}
	expectTrap(t, func() { fresh.Write(bg, make([]byte, got+1)) })

	// The first connection's peer reads: its stream becomes ready, and
	// it writes on.
	go io.Copy(io.Discard, peers[0])
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	if _, err := Wait(ctx, []Source{outs[0]}); err != nil {
		t.Fatalf("the stream of a connection whose peer reads never became ready: %v", err)
	}
	if got, err := outs[0].CheckWrite(bg); err != nil || got < 16<<10 {
		t.Fatalf("check-write once the peer read: %d, %v", got, err)
	}
	if err := outs[0].Write(bg, make([]byte, 16<<10)); err != nil {
		t.Fatal(err)
	}

	for _, s := range append(outs, spenders...) {
		s.Close()
	}
	for _, p := range peers {
		p.Close() // the lingering queues fail: everything returns
	}
	waitUsed(t, b, 0)
}

// waitUsed waits up to 10 s for b to count want bytes.
func waitUsed(t *testing.T, b *UnsentBudget, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Used() != want {
		if time.Now().After(deadline) {
			t.Fatalf("the budget counts %d bytes, want %d", b.Used(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Returned once: nothing more comes back later.
	time.Sleep(50 * time.Millisecond)
	if got := b.Used(); got != want {
		t.Fatalf("the budget counts %d bytes after settling at %d", got, want)
	}
}

// TestUnsentBudgetLinger: a dropped stream's queue keeps its bytes
// counted while it lingers, and returns them exactly once when it gives
// up (the linger passed) or delivered them (its peer read).
func TestUnsentBudgetLinger(t *testing.T) {
	const linger = 200 * time.Millisecond
	b := NewUnsentBudget(1<<20, nil)
	for _, peerReads := range []bool{false, true} {
		released := make(chan struct{})
		out, q, peer := budgetStreams(t, b, linger, func() error { close(released); return nil })
		fillPermits(t, out)
		// The engine's own bytes, past the floor (a handshake's flight).
		if _, err := q.Write(make([]byte, 128<<10)); err != nil {
			t.Fatal(err)
		}
		if used := b.Used(); used < 100<<10 {
			t.Fatalf("the budget counts %d bytes with 128 KiB queued past a full socket", used)
		}
		dropped := time.Now()
		out.Close()
		time.Sleep(linger / 4)
		// Judged only while the linger lasts: a loaded machine may sleep
		// past it, when the queue rightly gave its bytes back.
		if used := b.Used(); used < 100<<10 && time.Since(dropped) < linger {
			t.Errorf("the budget counts %d bytes while the dropped stream lingers with them", used)
		}
		if peerReads {
			go io.Copy(io.Discard, peer)
		}
		select {
		case <-released:
		case <-time.After(10 * time.Second):
			t.Fatal("the socket was not released")
		}
		waitUsed(t, b, 0)
	}
}

// TestUnsentBudgetWaits: a writer past its floor that is not inside
// ReadNow (a handshake's) waits for room in the budget, and goes on when
// another connection returns bytes; inside ReadNow it fails instead.
func TestUnsentBudgetWaits(t *testing.T) {
	b := NewUnsentBudget(64<<10, nil)
	out1, q1, peer1 := budgetStreams(t, b, 0, nil)
	fillPermits(t, out1)
	if _, err := q1.Write(make([]byte, 56<<10)); err != nil {
		t.Fatal(err)
	}
	out2, q2, _ := budgetStreams(t, b, 0, nil)
	fillPermits(t, out2)
	done := make(chan error, 1)
	go func() {
		_, err := q2.Write(make([]byte, 56<<10))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a write past the spent budget returned at once: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	go io.Copy(io.Discard, peer1) // q1 drains and returns its bytes
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting write did not go on once bytes returned")
	}

	// Inside ReadNow, a write short of the budget fails the connection.
	out3, q3, _ := budgetStreams(t, b, 0, nil)
	fillPermits(t, out3)
	q3.now.Store(true)
	_, err := q3.Write(make([]byte, 64<<10))
	q3.now.Store(false)
	if err == nil {
		t.Fatal("a write inside ReadNow past the spent budget succeeded")
	}
	t.Log(err)
	for _, s := range []*OutputStream{out1, out2, out3} {
		s.Close()
	}
}

// TestUnsentBudgetTinyTLSWrites: with the guest's budget spent, a TLS
// connection's cleartext stream written a byte at a time within each
// permit, to a peer that reads nothing, is held back by check-write (it
// grants nothing while the connection holds bytes unsent) rather than
// failed, and holds at most its floor: the writes made while the
// connection held bytes unsent are gathered and encrypted as one. Once
// the peer reads, it gets every byte, in order. Before, each write was a
// TLS record of its own, 23 bytes on the wire for 1 of the permit's, and
// the connection failed (last-operation-failed, "the peer is not reading")
// after some 900 writes, its queue past its floor.
func TestUnsentBudgetTinyTLSWrites(t *testing.T) {
	tc, peer, b, ca, leaf := spentTLSPair(t)
	srv := tls.Server(peer, &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}})
	go srv.Handshake()
	cl := tls.Client(tc, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	q := tc.(NonblockingTransport).Backlog()
	s := NewInlineOutputStream(cl, q, nil)

	// Write a counting pattern a byte at a time, as many writes as each
	// permit allows, until check-write grants nothing.
	written, most := 0, 0
	for {
		n, err := s.CheckWrite(bg)
		if err != nil {
			t.Fatalf("check-write after %d bytes: %v", written, err)
		}
		if n == 0 {
			break
		}
		for range n {
			if err := s.Write(bg, []byte{byte(written)}); err != nil {
				t.Fatalf("write %d, within the permit of %d: %v", written, n, err)
			}
			written++
			held, _ := q.Unsent()
			most = max(most, held)
		}
		if written > 1<<20 {
			t.Fatal("check-write never held the writes back")
		}
	}
	if most > UnsentFloor {
		t.Errorf("the queue held %d bytes, past its floor (%d) with the budget spent", most, UnsentFloor)
	}
	if used := b.Used(); used != 0 {
		t.Errorf("the spent budget counts %d bytes", used)
	}
	t.Logf("%d writes of one byte before check-write granted nothing; the queue held at most %d bytes", written, most)

	// The peer reads: every byte arrives, in order.
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, written)
	if _, err := io.ReadFull(srv, got); err != nil {
		t.Fatalf("the peer read: %v", err)
	}
	for i, c := range got {
		if c != byte(i) {
			t.Fatalf("byte %d is %d, want %d", i, c, byte(i))
		}
	}
	writableAgain(t, s)
	s.Close()
	cl.Close()
}

// budgetBlocked reports whether q waits for room in b.
func budgetBlocked(b *UnsentBudget, q *sendQueue) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.blocked[q]
	return ok
}

// TestUnsentBudgetWaitEndsAtCloseWrite: a writer waiting for room in the
// spent budget (an engine's, not the guest's) returns once the socket's
// write side is closed (CloseWrite, or closeWriteLater), as it does at
// Close: before, nothing woke it, and it waited for a peer that never
// reads, or its deadline.
func TestUnsentBudgetWaitEndsAtCloseWrite(t *testing.T) {
	for _, later := range []bool{false, true} {
		b := NewUnsentBudget(0, nil)
		out, q, _ := budgetStreams(t, b, 0, nil)
		fillPermits(t, out)
		done := make(chan error, 1)
		go func() {
			_, err := q.Write(make([]byte, UnsentFloor))
			done <- err
		}()
		// The write waits for room once its queue is among the budget's
		// blocked ones (registered under the queue's lock, which the
		// close below takes after the write's wait released it).
		for deadline := time.Now().Add(10 * time.Second); !budgetBlocked(b, q); {
			select {
			case err := <-done:
				t.Fatalf("a write past the spent budget returned without waiting: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("a write past the spent budget never waited for room")
			}
			time.Sleep(time.Millisecond)
		}
		if later {
			q.closeWriteLater()
		} else {
			q.CloseWrite()
		}
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("later=%v: the waiting write returned %v, want net.ErrClosed", later, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("later=%v: the waiting write did not return once the write side was closed", later)
		}
		out.Close()
	}
}
