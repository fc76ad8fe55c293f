package runtime_test

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
)

// TestStdinStops: a Go guest reading its standard input (fd_read of
// wasi_snapshot_preview1), which nobody writes to, stops when its context
// is cancelled, past its deadline or when its instance is closed, with
// the stop flag and under wazero's checks alike; input that does come is
// read whole.
func TestStdinStops(t *testing.T) {
	stopPaths(t, func(t *testing.T, rt *runtime.Runtime, compiled wazero.CompiledModule) {
		blockedStops(t, func(t *testing.T, ctx context.Context, started func(*runtime.Instance)) <-chan error {
			stdin, feed := io.Pipe()
			t.Cleanup(func() { feed.Close() })
			out := &lineWriter{lines: make(chan string, 16)} // "reading"
			cfg := runtime.ModuleConfig{Args: []string{"hog", "stdin", "100"}, Stdin: stdin, Stdout: out, Started: started}
			return startBlocked(t, ctx, rt, compiled, cfg, out, "io.(*pipe).read")
		})
		t.Run("input", func(t *testing.T) {
			var out strings.Builder
			_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
				Args: []string{"hog", "stdin", "100"}, Stdin: strings.NewReader(strings.Repeat("x", 100000)), Stdout: &out})
			if err != nil || out.String() != "reading\nread 100000 bytes\n" {
				t.Fatalf("guest: %v, stdout %q", err, out.String())
			}
		})
	})
}

// countWriter counts what is written to it.
type countWriter struct{ n atomic.Int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestStdoutStops: a Go guest writing 1 MiB to its standard output
// (fd_write of wasi_snapshot_preview1), a pipe nobody reads, stops when
// its context is cancelled, past its deadline or when its instance is
// closed, with the stop flag and under wazero's checks alike; a writer
// that takes the bytes gets all of them.
func TestStdoutStops(t *testing.T) {
	stopPaths(t, func(t *testing.T, rt *runtime.Runtime, compiled wazero.CompiledModule) {
		blockedStops(t, func(t *testing.T, ctx context.Context, started func(*runtime.Instance)) <-chan error {
			drain, stdout := io.Pipe()
			t.Cleanup(func() { drain.Close() })
			errOut := &lineWriter{lines: make(chan string, 16)} // "writing"
			cfg := runtime.ModuleConfig{Args: []string{"hog", "write", "1048576"}, Stdout: stdout, Stderr: errOut, Started: started}
			return startBlocked(t, ctx, rt, compiled, cfg, errOut, "io.(*pipe).write")
		})
		t.Run("output", func(t *testing.T) {
			var out countWriter
			var errOut strings.Builder
			_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
				Args: []string{"hog", "write", "1048576"}, Stdout: &out, Stderr: &errOut})
			if err != nil || out.n.Load() != 1<<20 || errOut.String() != "writing\nwrote 1048576\n" {
				t.Fatalf("guest: %v, %d bytes written, stderr %q", err, out.n.Load(), errOut.String())
			}
		})
	})
}

// writesModule is a command writing 16 bytes to its standard output n
// times, each a fd_write of wasi_snapshot_preview1.
func writesModule(n int32) []byte {
	var m wasmbin.Module
	fdWrite := m.ImportFunc("wasi_snapshot_preview1", "fd_write", m.Type([]byte{i32, i32, i32, i32}, []byte{i32}))
	m.Memory(1, 1)
	// The iovec at 0: 16 bytes at 64.
	body := wasmbin.Cat(i32Const(0), i32Const(64), []byte{0x36, 2, 0}, i32Const(4), i32Const(16), []byte{0x36, 2, 0})
	// loop: fd_write(1, iovec, 1, 32); i++; br_if i < n
	body = wasmbin.Cat(body, []byte{0x03, 0x40}, i32Const(1), i32Const(0), i32Const(1), i32Const(32), []byte{0x10}, uleb(uint64(fdWrite)), []byte{0x1a},
		[]byte{0x20, 0}, i32Const(1), []byte{0x6a, 0x22, 0}, i32Const(n), []byte{0x48, 0x0d, 0, 0x0b})
	m.Export("_start", wasmbin.ExportFunc, m.Func(m.Type(nil, nil), []byte{0x01, 0x01, i32}, body))
	m.Export("memory", wasmbin.ExportMemory, 0)
	return m.Bytes()
}

// plainWriter takes every write, as a writer the runtime cannot tell
// never blocks.
type plainWriter struct{ n int }

func (p *plainWriter) Write(b []byte) (int, error) {
	p.n += len(b)
	return len(b), nil
}

// BenchmarkPreview1Writes is what a guest's write to its standard output
// costs, 10,000 writes of 16 bytes an op: to io.Discard, written on the
// guest's call, and to a writer that might block, written on a goroutine
// (outputWriter). Compare the two in one run:
//
//	go test ./runtime -run '^$' -bench Preview1Writes -count 5
func BenchmarkPreview1Writes(b *testing.B) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		b.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, writesModule(10000))
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range []struct {
		name string
		w    io.Writer
	}{{"discard", io.Discard}, {"goroutine", &plainWriter{}}} {
		b.Run(w.name, func(b *testing.B) {
			for range b.N {
				if _, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Stdout: w.w}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
