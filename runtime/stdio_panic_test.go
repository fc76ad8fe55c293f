package runtime_test

import (
	"context"
	"log/slog"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/component"
)

// panicWriter is an embedder's writer that panics on the guest's bytes.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("the writer failed") }

// panicReader is an embedder's reader that panics when read.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("the reader failed") }

// checkPanicLogged: the log holds one record of stream's panic with its
// value and the host's stack.
func checkPanicLogged(t *testing.T, log *syncbuf.Buffer, stream, value string) {
	t.Helper()
	out := log.String()
	if want := "runtime: the embedder's " + stream + " panicked: " + value; strings.Count(out, want) != 1 || !strings.Contains(out, "goroutine ") {
		t.Errorf("log %q, want one record of %q with its stack", out, want)
	}
}

// TestStdioPanicPreview1: a Go guest (fd_read and fd_write of
// wasi_snapshot_preview1) reading a standard input whose reader panics,
// or writing a standard output whose writer panics, sees its read or
// write fail and goes on; the process survives, the panic is logged once
// with its stack (Config.Logger), no goroutine is left behind, and the
// next guest of the runtime reads and writes as ever.
func TestStdioPanicPreview1(t *testing.T) {
	log := &syncbuf.Buffer{}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Logger: slog.New(slog.NewTextHandler(log, nil))})
	g0 := goruntime.NumGoroutine()
	run := func(cfg runtime.ModuleConfig) (string, error) {
		var stderr strings.Builder
		cfg.Stderr = &stderr
		_, err := rt.Instantiate(context.Background(), compiled, cfg)
		return stderr.String(), err
	}
	t.Run("stdout", func(t *testing.T) {
		stderr, err := run(runtime.ModuleConfig{Args: []string{"hog", "write", "100000"}, Stdout: panicWriter{}})
		if err != nil || stderr != "writing\nwrote 0\n" {
			t.Fatalf("guest: %v, stderr %q, want its write failed", err, stderr)
		}
		checkPanicLogged(t, log, "stdout", "the writer failed")
	})
	t.Run("stdin", func(t *testing.T) {
		var stdout strings.Builder
		_, err := run(runtime.ModuleConfig{Args: []string{"hog", "stdin", "100"}, Stdin: panicReader{}, Stdout: &stdout})
		if err != nil || stdout.String() != "reading\nread 0 bytes\n" {
			t.Fatalf("guest: %v, stdout %q, want its read failed", err, stdout.String())
		}
		checkPanicLogged(t, log, "stdin", "the reader failed")
	})
	waitGoroutines(t, g0)
	var stdout strings.Builder
	if _, err := run(runtime.ModuleConfig{Args: []string{"hog", "stdin", "100"}, Stdin: strings.NewReader("abc"), Stdout: &stdout}); err != nil || stdout.String() != "reading\nread 3 bytes\n" {
		t.Fatalf("next guest: %v, stdout %q", err, stdout.String())
	}
}

// stdioComponent is testdata/components/stdio.c as a command component.
func stdioComponent(t *testing.T) *component.Component {
	c, err := component.Parse(cguest.Build(t, cguest.Spec{Sources: []string{"testdata/components/stdio.c"}, Adapter: cguest.Command}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStdioPanicComponent is TestStdioPanicPreview1 for a component,
// whose standard streams are wasi:cli's (wasiio's streams, read and
// written on goroutines of their own): the stream fails, the guest goes
// on, the process survives, the panic is logged once, nothing is left
// behind, and the next guest works.
func TestStdioPanicComponent(t *testing.T) {
	log := &syncbuf.Buffer{}
	ctx := context.Background()
	_, rt := testRuntime(t, runtime.NewRuntimeConfig(), runtime.Config{Logger: slog.New(slog.NewTextHandler(log, nil))})
	c := stdioComponent(t)
	g0 := goruntime.NumGoroutine()
	run := func(stdin string, stdinPanics, stdoutPanics bool) (stdout, stderr string) {
		t.Helper()
		var out, errb strings.Builder
		cfg := runtime.ModuleConfig{Args: []string{"stdio"}, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
		if stdinPanics {
			cfg.Stdin = panicReader{}
		}
		if stdoutPanics {
			cfg.Stdout = panicWriter{}
		}
		inst, err := rt.InstantiateComponent(ctx, c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := inst.Run(); err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := inst.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		return out.String(), errb.String()
	}
	if _, stderr := run("abc", false, true); stderr != "read 3 bytes: end\nwrite: failed\n" {
		t.Errorf("stdout panicking: stderr %q, want the write failed", stderr)
	}
	checkPanicLogged(t, log, "stdout", "the writer failed")
	if stdout, stderr := run("", true, false); stderr != "read 0 bytes: failed\nwrite: ok\n" || stdout != "hello\n" {
		t.Errorf("stdin panicking: stdout %q, stderr %q, want the read failed and the write done", stdout, stderr)
	}
	checkPanicLogged(t, log, "stdin", "the reader failed")
	waitGoroutines(t, g0)
	if stdout, stderr := run("abcd", false, false); stderr != "read 4 bytes: end\nwrite: ok\n" || stdout != "hello\n" {
		t.Errorf("next guest: stdout %q, stderr %q", stdout, stderr)
	}
}

// panickyHandler writes each record through its Handler and then panics:
// an embedder's Config.Logger with a bug.
type panickyHandler struct{ slog.Handler }

func (h panickyHandler) Handle(ctx context.Context, r slog.Record) error {
	h.Handler.Handle(ctx, r)
	panic("the logger failed")
}

// TestStdioPanicLoggerPanics: the log of a standard stream's panic runs
// on the runtime's goroutine too; a Config.Logger that panics on it costs
// that record, not the process: the guest's write fails as with any
// logger, and the next guest works.
func TestStdioPanicLoggerPanics(t *testing.T) {
	log := &syncbuf.Buffer{}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Logger: slog.New(panickyHandler{slog.NewTextHandler(log, nil)})})
	g0 := goruntime.NumGoroutine()
	var stderr strings.Builder
	_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{Args: []string{"hog", "write", "100000"}, Stdout: panicWriter{}, Stderr: &stderr})
	if err != nil || stderr.String() != "writing\nwrote 0\n" {
		t.Fatalf("guest: %v, stderr %q, want its write failed", err, stderr.String())
	}
	checkPanicLogged(t, log, "stdout", "the writer failed")
	waitGoroutines(t, g0)
	var stdout strings.Builder
	if _, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{Args: []string{"hog", "write", "10"}, Stdout: &stdout, Stderr: &stderr}); err != nil || stdout.Len() != 10 {
		t.Fatalf("next guest: %v, %d bytes written", err, stdout.Len())
	}
}
