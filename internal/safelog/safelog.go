// Package safelog logs through an embedder's *slog.Logger from goroutines
// the embedder cannot wrap (a stream's reader or writer, a handshake's):
// the logger's handler is the embedder's code, and a panic there would
// end the whole process. Log recovers it; the record is lost, nothing
// else. PanicValue puts a recovered panic's value on one bounded line for
// the error that reports it.
package safelog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Log logs msg with args at level through l, if l is not nil. A panic of
// the logger is recovered: the record is dropped. Log reports whether the
// record was handed over without a panic.
func Log(l *slog.Logger, level slog.Level, msg string, args ...any) (ok bool) {
	if l == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	l.Log(context.Background(), level, msg, args...)
	return true
}

// OrDefault returns l, or slog.Default() when l is nil: the logger of
// a Config whose Logger field was left out.
func OrDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// MaxPanicValue bounds the panic value PanicValue returns, in bytes
// (plus the "…" marking a cut).
const MaxPanicValue = 200

// PanicValue is a recovered panic's value on one line of at most
// MaxPanicValue bytes (cut on a UTF-8 boundary, marked "…"), fit for an
// error message that reaches a guest: the value is an embedder's and may
// be anything.
func PanicValue(v any) string {
	msg := fmt.Sprint(v)
	if len(msg) > MaxPanicValue {
		msg = strings.ToValidUTF8(msg[:MaxPanicValue], "") + "…"
	}
	return strings.Join(strings.Fields(msg), " ")
}
