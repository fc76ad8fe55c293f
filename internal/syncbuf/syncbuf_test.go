package syncbuf_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/internal/syncbuf"
)

// TestBuffer: writes from many goroutines, read meanwhile, all land whole
// (run with -race to see that they share it safely).
func TestBuffer(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("ab"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("ab", 800) {
		t.Fatalf("the buffer holds %d bytes, want 1600 of \"ab\" pairs", len(got))
	}
}
