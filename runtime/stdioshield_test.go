package runtime

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/syncbuf"
)

// overclaimWriter is an embedder's writer with a bug: it claims to have
// written more bytes than it was given (or, with negative set, fewer than
// none), as io.Writer forbids. It counts its calls.
type overclaimWriter struct {
	negative bool
	calls    int
}

func (w *overclaimWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.negative {
		return -1, nil
	}
	return len(p) + 1, nil
}

// TestStdoutInvalidCount: a write of the guest's standard output whose
// embedder's writer returns a count outside the bytes it was given fails
// with a *StdioCountError naming it, logged once; the stream is over, and
// a later write fails the same way without calling the writer again.
func TestStdoutInvalidCount(t *testing.T) {
	for _, negative := range []bool{false, true} {
		log := &syncbuf.Buffer{}
		w := &overclaimWriter{negative: negative}
		s := &shieldedWriter{stdioShield{stream: "stdout", log: slog.New(slog.NewTextHandler(log, nil))}, w}
		want := &StdioCountError{Stream: "stdout", Op: "Write", N: 4, Len: 3}
		if negative {
			want.N = -1
		}
		for i := range 2 {
			n, err := s.Write([]byte("abc"))
			var ce *StdioCountError
			if n != 0 || !errors.As(err, &ce) || *ce != *want {
				t.Fatalf("negative %v, write %d: %d, %v; want 0, %v", negative, i, n, err, want)
			}
		}
		if w.calls != 1 {
			t.Errorf("negative %v: the writer was called %d times, want once: the stream is over", negative, w.calls)
		}
		if out := log.String(); strings.Count(out, `msg="runtime: the embedder's stdout returned an invalid count"`) != 1 {
			t.Errorf("negative %v: log %q, want the invalid count logged once", negative, out)
		}
	}
}
