package safelog_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/safelog"
)

// panicHandler is a handler whose Handle panics: an embedder's bug.
type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("the handler failed") }

// TestLog: a record reaches a working logger; a logger whose handler
// panics costs the record and nothing else; no logger logs nothing.
func TestLog(t *testing.T) {
	var buf bytes.Buffer
	if !safelog.Log(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelWarn, "hello", "k", "v") || !strings.Contains(buf.String(), "msg=hello k=v") {
		t.Errorf("logged %q, want the record", buf.String())
	}
	if safelog.Log(slog.New(panicHandler{}), slog.LevelError, "lost") {
		t.Error("Log reported a record its logger panicked on as logged")
	}
	if safelog.Log(nil, slog.LevelError, "nowhere") {
		t.Error("Log reported a record logged without a logger")
	}
}

// TestPanicValue: a panic's value comes out on one line, whitespace runs
// folded to one space; a long one is cut to MaxPanicValue bytes on a
// UTF-8 boundary and marked "…".
func TestPanicValue(t *testing.T) {
	if got := safelog.PanicValue("two\nlines\t here "); got != "two lines here" {
		t.Errorf("PanicValue of two lines: %q", got)
	}
	if got := safelog.PanicValue(42); got != "42" {
		t.Errorf("PanicValue(42): %q", got)
	}
	long := strings.Repeat("a", safelog.MaxPanicValue-1) + "é and more"
	got := safelog.PanicValue(long)
	if want := strings.Repeat("a", safelog.MaxPanicValue-1) + "…"; got != want {
		t.Errorf("PanicValue of %d bytes: %q, want %q", len(long), got, want)
	}
}

// TestOrDefault: a logger is kept; nil is slog.Default().
func TestOrDefault(t *testing.T) {
	l := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	if safelog.OrDefault(l) != l {
		t.Error("OrDefault replaced a logger")
	}
	if safelog.OrDefault(nil) != slog.Default() {
		t.Error("OrDefault(nil) is not slog.Default()")
	}
}
