package stdtls_test

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// TestKeyUpdateAnswersInBlockingRead: a peer that reads nothing, once the
// victim's send queue holds nearly wasiio.MaxUnsent, sends KeyUpdates
// asking for an answer with data between them (crypto/tls answers any
// number then), while the victim waits in a blocking Read of the host's
// socket transport (the wasi:tls host's read when the guest waits on
// its input stream). crypto/tls writes each answer from within that
// Read. Once they no longer fit, the Read fails naming the peer that
// does not read, and the queue never held more than MaxUnsent. Before,
// the answer waited for room in the queue, a wait the read deadline does
// not end, so the guest's call waited for as long as the peer did.
func TestKeyUpdateAnswersInBlockingRead(t *testing.T) {
	f := newFixture(t)
	before := runtime.NumGoroutine()
	craw, sraw := testnet.TCPPair(t)
	craw.SetWriteBuffer(4096)
	sraw.SetReadBuffer(4096)
	sraw.SetDeadline(time.Now().Add(30 * time.Second))
	in, out, _ := wasiio.SocketStreams(craw, io.NopCloser(nil), craw.Close)
	tr, err := wasiio.Transport(in, out)
	if err != nil {
		t.Fatal(err)
	}
	nb, ok := tr.(wasiio.NonblockingTransport)
	if !ok {
		t.Skip("the platform has no non-blocking transport")
	}
	victim, attacker := keyUpdatePair(t, f, true, tr, sraw)
	// Nearly MaxUnsent for a peer that reads nothing: this never waits.
	if _, err := victim.Write(make([]byte, wasiio.MaxUnsent-8<<10)); err != nil {
		t.Fatal(err)
	}
	// The hang guard: the victim's socket closed under its Read ends
	// the wait in the queue, which a read deadline does not.
	guard := time.AfterFunc(20*time.Second, func() { craw.Close() })
	defer guard.Stop()
	go func() {
		for range 5000 {
			if attacker.KeyUpdate(true) != nil {
				return
			}
			if _, err := attacker.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	most := 0
	buf := make([]byte, 100)
	for {
		tr.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err = nb.ReadWait(victim, buf) // as the wasi:tls host reads when the guest waits
		if n, _ := nb.Backlog().Unsent(); n > most {
			most = n
		}
		if err != nil {
			break
		}
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "the peer is not reading") {
		t.Errorf("victim Read: %v; want the peer that is not reading named", err)
	}
	if most > wasiio.MaxUnsent {
		t.Errorf("the send queue held %d bytes unsent, more than MaxUnsent (%d)", most, wasiio.MaxUnsent)
	}
	victim.Close()
	attacker.Close()
	// Nothing of the connection is left: the queue's flusher, ended by
	// the failure, and the attacker's writer.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before the connection", runtime.NumGoroutine(), before)
		}
	}
}
