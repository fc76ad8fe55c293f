package runtime_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/runtime"
)

// TestFileStreamsLimit: streams over a file (read-via-stream,
// write-via-stream, append-via-stream) count toward Limits.Files as open
// files do: a wasm guest that opened one file gets the streams the limit
// leaves (14: the file and 13 streams), then insufficient-memory; while it
// holds them the host holds a goroutine for each, no more. Before, the
// streams counted nothing: bounded by the handle limit alone (262,144),
// each used one held a goroutine and, reading, up to 128 KiB read ahead,
// from one open file. Dropping them gives the host everything back. The
// guest's refused calls log one record naming the cap and the guest
// (capreport).
func TestFileStreamsLimit(t *testing.T) {
	ctx := context.Background()
	log, rec := capreporttest.New()
	rt, compiled := guestRuntime(t, runtime.Config{Logger: log, Limits: runtime.Limits{Files: 14}}, "./testdata/filestreams")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("b"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	goroutines, fds := goruntime.NumGoroutine(), countFDs(t)
	stdin, feed := io.Pipe()
	out := &lineWriter{lines: make(chan string, 16)}
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args: []string{"filestreams", "5"}, Stdin: stdin, Stdout: out,
			Dirs: []runtime.Dir{{Host: dir, Guest: "/rw"}},
		})
		done <- err
	}()
	var got []string
	for line := range out.lines {
		got = append(got, line)
		if line == "holding" {
			break
		}
	}
	want := "read-via-stream: 5, then none\nwrite-via-stream: 5, then none\nappend-via-stream: 3, then insufficient-memory\nholding"
	if strings.Join(got, "\n") != want {
		t.Errorf("guest output differs:\n%s", lineDiff(strings.Join(got, "\n"), want))
	}
	// 13 streams, each with its goroutine, and the instance's own few.
	if n := goruntime.NumGoroutine() - goroutines; n > 13+8 {
		t.Errorf("the host holds %d goroutines more while the guest holds its streams, want at most 21", n)
	}
	feed.Close()
	if err := <-done; err != nil {
		t.Fatalf("guest: %v", err)
	}
	if line := <-out.lines; line != "dropped" {
		t.Errorf("last line %q, want dropped", line)
	}
	settle(t, goroutines, fds)
	if err := rec.Check("--max-files", 14, 1); err != nil {
		t.Error(err)
	}
}
