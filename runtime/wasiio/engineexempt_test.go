package wasiio

import (
	"io"
	"net"
	"testing"
	"time"
)

// spentEngineQueue is the send queue of a socket's output stream with
// small socket buffers and a spent budget (returned too), set as during a
// guest's write through an inline stream and inside a transport's ReadNow,
// where the engine writes on its own; the peer is the other end. The
// stream closes when the test ends.
func spentEngineQueue(t *testing.T) (*sendQueue, *net.TCPConn, *UnsentBudget) {
	t.Helper()
	if !nonblockingCapable {
		t.Skip("the streams are inline only where the platform allows non-blocking sockets")
	}
	a, peer := silentPair(t)
	b := NewUnsentBudget(0, nil) // spent
	_, out, _ := SocketStreamsBudget(a, nil, a.Close, 0, b)
	t.Cleanup(func() { out.Close() })
	q := out.backlog.(*sendQueue)
	q.guest.Store(true)
	q.now.Store(true)
	return q, peer, b
}

// TestEngineBytesPastBudgetBounded: the bytes a TLS engine writes on its
// own while a guest's write is in progress, which the queue takes past a
// spent budget rather than fail the connection (see mustNotWait), are
// bounded by one more floor a connection, not by MaxUnsent: a peer that
// never reads and keeps asking for KeyUpdates during the guest's writes
// (crypto/tls answers any number while data comes between them) would
// otherwise make each of a guest's sockets hold 256 KiB outside its
// budget, 1 GiB over 4,096 sockets. The engine's writes here are 26-byte
// records, a KeyUpdate answer's size, made inside a read (they must not
// block) until the queue refuses one.
func TestEngineBytesPastBudgetBounded(t *testing.T) {
	q, _, b := spentEngineQueue(t)
	record := make([]byte, 26)
	most := 0
	for range (MaxUnsent + 1<<20) / len(record) {
		if _, err := q.Write(record); err != nil {
			break
		}
		if n, _ := q.Unsent(); n > most {
			most = n
		}
	}
	if _, err := q.Unsent(); err == nil {
		t.Fatalf("the queue took %d bytes' worth of records and never refused one", MaxUnsent+1<<20)
	}
	if most > 2*UnsentFloor {
		t.Errorf("the queue held %d bytes unsent past a spent budget, more than its floor and one more (%d)", most, 2*UnsentFloor)
	}
	if used := b.Used(); used != 0 {
		t.Errorf("the spent budget counts %d bytes", used)
	}
	t.Logf("held at most %d bytes unsent before refusing", most)
}

// TestEngineBytesExemptAgainOnceIdle: the floor of the engine's bytes
// taken past a spent budget is per stretch of unsent bytes: once the
// peer read everything and the queue is idle, the next stretch may take
// a whole floor again (the count restarts in drainedLocked); without the
// restart, a connection would fail at its second burst of KeyUpdate
// answers for what its first took.
func TestEngineBytesExemptAgainOnceIdle(t *testing.T) {
	q, peer, _ := spentEngineQueue(t)
	exempt := func() int {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.exempt
	}
	record := make([]byte, 26)
	for round := range 2 {
		written := 0
		for exempt()+len(record) <= UnsentFloor {
			if _, err := q.Write(record); err != nil {
				t.Fatalf("round %d: a record %d bytes in, %d taken past the budget: %v", round, written, exempt(), err)
			}
			written += len(record)
			if written > MaxUnsent {
				t.Fatalf("round %d: %d bytes written and none taken past the budget", round, written)
			}
		}
		if got := exempt(); got <= UnsentFloor-len(record) {
			t.Fatalf("round %d: %d bytes taken past the budget, want near %d", round, got, UnsentFloor)
		}
		peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(peer, make([]byte, written)); err != nil {
			t.Fatalf("round %d: the peer read: %v", round, err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if n, err := q.Unsent(); n == 0 && err == nil {
				break
			} else if err != nil || time.Now().After(deadline) {
				t.Fatalf("round %d: %d bytes still unsent after the peer read everything: %v", round, n, err)
			}
		}
		if got := exempt(); got != 0 {
			t.Fatalf("round %d: the idle queue still counts %d bytes taken past the budget", round, got)
		}
	}
}
