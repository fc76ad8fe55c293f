// Package safelog logs through an embedder's *slog.Logger from goroutines
// the embedder cannot wrap (a stream's reader or writer, a handshake's):
// the logger's handler is the embedder's code, and a panic there would
// end the whole process. Log recovers it; the record is lost, nothing
// else.
package safelog

import (
	"context"
	"log/slog"
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
