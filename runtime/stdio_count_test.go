package runtime_test

import (
	"context"
	"log/slog"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/runtime"
)

// overclaimReader is an embedder's reader with a bug: it claims to have
// read more bytes than the buffer it was given holds (or, with negative
// set, fewer than none), as io.Reader forbids.
type overclaimReader struct{ negative bool }

func (r overclaimReader) Read(p []byte) (int, error) {
	if r.negative {
		return -1, nil
	}
	return len(p) + 1, nil
}

// TestStdinInvalidCount: an embedder's standard input whose Read returns
// a count outside the buffer it was given fails the guest's read, as a
// panic of it does (the stream ends; wasi_snapshot_preview1's fd_read and
// wasi:cli's stream both say so); the process survives and the next guest
// reads as ever. Before, the runtime sliced its buffer by that count on a
// goroutine of its own: a panic there ended the process.
func TestStdinInvalidCount(t *testing.T) {
	log := &syncbuf.Buffer{}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Logger: slog.New(slog.NewTextHandler(log, nil))})
	g0 := goruntime.NumGoroutine()
	for _, negative := range []bool{false, true} {
		var stdout strings.Builder
		_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{Args: []string{"hog", "stdin", "100"}, Stdin: overclaimReader{negative}, Stdout: &stdout})
		if err != nil || stdout.String() != "reading\nread 0 bytes\n" {
			t.Fatalf("negative %v: guest: %v, stdout %q, want its read failed", negative, err, stdout.String())
		}
	}
	if out := log.String(); strings.Count(out, `msg="runtime: the embedder's stdin returned an invalid count"`) != 2 {
		t.Errorf("log %q, want each invalid count logged", out)
	}
	t.Run("component", func(t *testing.T) {
		ctx := context.Background()
		_, rt := testRuntime(t, runtime.NewRuntimeConfig(), runtime.Config{Logger: slog.New(slog.NewTextHandler(log, nil))})
		var stdout, stderr strings.Builder
		inst, err := rt.InstantiateComponent(ctx, stdioComponent(t), runtime.ModuleConfig{Args: []string{"stdio"}, Stdin: overclaimReader{}, Stdout: &stdout, Stderr: &stderr})
		if err != nil {
			t.Fatal(err)
		}
		if err := inst.Run(); err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := inst.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if stderr.String() != "read 0 bytes: failed\nwrite: ok\n" || stdout.String() != "hello\n" {
			t.Errorf("stdout %q, stderr %q, want the read failed and the write done", stdout.String(), stderr.String())
		}
	})
	waitGoroutines(t, g0)
	var stdout strings.Builder
	if _, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{Args: []string{"hog", "stdin", "100"}, Stdin: strings.NewReader("abc"), Stdout: &stdout}); err != nil || stdout.String() != "reading\nread 3 bytes\n" {
		t.Fatalf("next guest: %v, stdout %q", err, stdout.String())
	}
}
