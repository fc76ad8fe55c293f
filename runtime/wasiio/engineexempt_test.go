package wasiio

import (
	"testing"
)

// TestEngineBytesPastBudgetBounded: the bytes a TLS engine writes on its
// own while a guest's write is in progress, which the queue takes past a
// spent budget rather than fail the connection (see roomLocked), are
// bounded by one more floor a connection, not by MaxUnsent: a peer that
// never reads and keeps asking for KeyUpdates during the guest's writes
// (crypto/tls answers any number while data comes between them) would
// otherwise make each of a guest's sockets hold 256 KiB outside its
// budget, 1 GiB over 4,096 sockets. The engine's writes here are 26-byte
// records, a KeyUpdate answer's size, made inside a read (they must not
// block) until the queue refuses one.
func TestEngineBytesPastBudgetBounded(t *testing.T) {
	if !nonblockingCapable {
		t.Skip("the streams are inline only where the platform allows non-blocking sockets")
	}
	a, peer := tcpPair(t)
	peer.SetReadBuffer(4096)
	a.SetWriteBuffer(4096)
	b := NewUnsentBudget(0, nil) // spent
	_, out, _ := SocketStreamsBudget(a, nil, a.Close, 0, b)
	defer out.Close()
	q := out.backlog.(*sendQueue)
	q.guest.Store(true)
	q.now.Store(true)
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
