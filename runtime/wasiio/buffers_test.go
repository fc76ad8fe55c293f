package wasiio

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// An idle output stream holds no write buffer: thousands of idle
// connections must not pin WriteBudget bytes each.
func TestOutputStreamIdleHoldsNoBuffer(t *testing.T) {
	var w bytes.Buffer
	s := NewOutputStream(&w, nil)
	defer s.Close()
	for _, msg := range []string{"first", "second", "third"} {
		if err := s.BlockingWriteAndFlush(bg, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		held := s.buf != nil
		s.mu.Unlock()
		if held {
			t.Fatalf("after writing %q the idle stream still holds its buffer", msg)
		}
	}
	if w.String() != "firstsecondthird" {
		t.Fatalf("wrote %q", w.String())
	}
}

// chunkReader hands out one chunk per Read, as a test sends them.
type chunkReader struct {
	chunks chan string
	calls  atomic.Int32
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.calls.Add(1)
	c, ok := <-r.chunks
	if !ok {
		return 0, io.EOF
	}
	return copy(p, c), nil
}

// The reader goroutine reads one chunk ahead of the guest, and no more.
func TestInputStreamReadsOneChunkAhead(t *testing.T) {
	r := &chunkReader{chunks: make(chan string)}
	s := NewInputStream(r, nil)
	defer s.Close()
	if b, err := s.Read(bg, 10); err != nil || len(b) != 0 {
		t.Fatalf("Read = %q, %v before any input", b, err)
	}
	for _, c := range []string{"one", "two"} {
		select {
		case r.chunks <- c:
		case <-time.After(10 * time.Second):
			t.Fatalf("the reader goroutine did not take %q with one chunk unread", c)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if n := r.calls.Load(); n != 2 {
		t.Fatalf("%d reads with two chunks unread; want 2 (one chunk ahead, no more)", n)
	}
	for _, want := range []string{"on", "e", "two"} {
		b, err := s.BlockingRead(bg, uint64(len(want)))
		if err != nil || string(b) != want {
			t.Fatalf("BlockingRead = %q, %v; want %q", b, err, want)
		}
	}
	close(r.chunks)
	if _, err := s.BlockingRead(bg, 10); !IsClosed(err) {
		t.Fatalf("at the end: %v", err)
	}
}

// Bytes arrive complete and in order whatever the chunk and read sizes, as
// the two read-ahead buffers take turns and grow.
func TestInputStreamOrder(t *testing.T) {
	src := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	for name, r := range map[string]io.Reader{
		"whole": bytes.NewReader(src),
		"half":  iotest.HalfReader(bytes.NewReader(src)),
		"one":   iotest.OneByteReader(bytes.NewReader(src[:64<<10])),
	} {
		want := src
		if name == "one" {
			want = src[:64<<10]
		}
		s := NewInputStream(r, nil)
		var got []byte
		for calls := 0; ; calls++ {
			if calls > len(src) {
				t.Fatalf("%s: %d reads and no end after %d bytes", name, calls, len(got))
			}
			b, err := s.BlockingRead(bg, uint64(1+rng.IntN(96<<10)))
			if IsClosed(err) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got = append(got, b...)
		}
		s.Close()
		if !bytes.Equal(got, want) {
			t.Errorf("%s: read %d bytes, not the %d written (or not in order)", name, len(got), len(want))
		}
	}
}
