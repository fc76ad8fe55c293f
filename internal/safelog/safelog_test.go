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
