package tlshost

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/runtime/wasiio"
)

// overclaimConn is a backend's connection with a bug: its Read claims a
// byte more than the buffer it was given holds (or, with negative set,
// fewer than none), which io.Reader forbids.
type overclaimConn struct {
	nopConn
	negative bool
}

func (c overclaimConn) Read(p []byte) (int, error) {
	if c.negative {
		return -1, nil
	}
	return len(p) + 1, nil
}

// TestShieldedConnReadCount: a backend's Read that returns a count
// outside its buffer breaks that connection as a panic does (its error
// a BackendPanicError naming Read, logged once with the stack), and the
// guest's input stream over it fails. Before, the cleartext input
// stream's goroutine sliced its buffer by that count: a panic there
// ended the process.
func TestShieldedConnReadCount(t *testing.T) {
	for _, negative := range []bool{false, true} {
		var mu sync.Mutex
		var logged, broke int
		c := shieldConn(overclaimConn{negative: negative}, "test", breakFunc(func(*BackendPanicError) {
			mu.Lock()
			broke++
			mu.Unlock()
		}), func(error, []byte) {
			mu.Lock()
			logged++
			mu.Unlock()
		})
		in := wasiio.NewInputStream(c, nil)
		_, err := in.BlockingRead(context.Background(), 100)
		if err == nil {
			t.Fatalf("negative %v: the read over a backend returning a bad count succeeded", negative)
		}
		in.Drop()
		if _, err := c.Read(make([]byte, 8)); err == nil || !strings.Contains(err.Error(), "panicked in Read: Read returned") {
			t.Errorf("negative %v: the broken connection's next Read: %v, want the bad count's error", negative, err)
		}
		mu.Lock()
		if logged != 1 || broke != 1 {
			t.Errorf("negative %v: logged %d times, broken %d times, want once each", negative, logged, broke)
		}
		mu.Unlock()
	}
}
