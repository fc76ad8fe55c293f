package tlshost

import (
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/wasiio"
)

// TestDropInterruptsBlockedWrite: the drop of a connection mid-handshake
// closes its transport before it returns, waiting for a write of the
// handshake in progress (see ending.closeTransport); a write blocked on a
// loopback peer that does not read, its kernel buffers and the send queue
// full, is interrupted at once, not waited for: once closeTransport
// returned, the write has.
func TestDropInterruptsBlockedWrite(t *testing.T) {
	ours, _, _ := silentPair(t)
	tr, _ := heldTransport(t, ours)
	e := newEnding(tr)
	backlog := tr.(wasiio.NonblockingTransport).Backlog()
	chunk := make([]byte, 64<<10)
	returned := make(chan error, 1)
	go func() {
		for {
			if _, err := e.transport.Write(chunk); err != nil {
				returned <- err
				return
			}
		}
	}()
	// Once more than MaxUnsent-len(chunk) bytes wait in the send queue,
	// the next write cannot fit: it blocks until the peer reads, which it
	// never does.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if n, _ := backlog.Unsent(); n > wasiio.MaxUnsent-len(chunk) && e.guard.writing.Load() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writes to the silent peer never filled the send queue")
		}
	}
	e.closeTransport()
	// The guard's count of writes in progress, which closeTransport's
	// wait is woken by: the write returned from the guard by now. (Its
	// error reaches the channel a moment later, on the writer's
	// goroutine.)
	if e.guard.writing.Load() != 0 {
		t.Fatal("closeTransport returned with the handshake's write to a silent peer still blocked")
	}
	select {
	case err := <-returned:
		if err == nil {
			t.Fatal("the interrupted write succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the interrupted write has not returned to its caller 10 s after the guard")
	}
}
