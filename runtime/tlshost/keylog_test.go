package tlshost

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// blockingWriter blocks each write until release is closed, then counts
// the bytes.
type blockingWriter struct {
	release chan struct{}
	got     atomic.Int64
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.got.Add(int64(len(p)))
	return len(p), nil
}

// TestKeyLogHeld: with a writer that blocks, the first line waits
// keyLogWait and no later one waits; the lines held, the one in the
// writer's hands included, stay within the cap and one line, the drops
// are warned of once, and once the writer returns it gets what was held
// and nothing is held any more.
func TestKeyLogHeld(t *testing.T) {
	const max = 1000
	line := bytes.Repeat([]byte("x"), 99)
	line = append(line, '\n')
	w := &blockingWriter{release: make(chan struct{})}
	warnings := 0
	l := &keyLog{w: w, max: max, warn: func(error) { warnings++ }}
	for i := range 10_000 {
		done := make(chan struct{})
		go func() {
			l.Write(line)
			close(done)
		}()
		within(t, 30*time.Second, done, fmt.Sprintf("write %d of a line, the writer blocked", i))
		l.mu.Lock()
		queued, stalled := l.queued, l.stalled
		l.mu.Unlock()
		if queued > max+len(line) {
			t.Fatalf("after %d lines, %d bytes held; want at most %d", i+1, queued, max+len(line))
		}
		if !stalled {
			t.Fatalf("after write %d, the key log is not stalled", i)
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings, want 1", warnings)
	}
	close(w.release)
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		writing, queued := l.writing, l.queued
		l.mu.Unlock()
		if !writing {
			if queued != 0 || w.got.Load() != max {
				t.Errorf("once written: %d bytes held, %d written; want 0 and %d", queued, w.got.Load(), max)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer never caught up")
		}
		time.Sleep(time.Millisecond)
	}
	// Caught up, a line waits for its write again.
	l.Write(line)
	if got := w.got.Load(); got != max+int64(len(line)) {
		t.Errorf("after a line written, %d bytes written, want %d", got, max+len(line))
	}
}
