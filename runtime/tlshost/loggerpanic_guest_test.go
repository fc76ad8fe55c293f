package tlshost_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/syncbuf"
)

// panickyHandler writes each record through its Handler and then panics:
// an embedder's Config.Logger with a bug, called on the host's goroutines.
type panickyHandler struct{ slog.Handler }

func (h panickyHandler) Handle(ctx context.Context, r slog.Record) error {
	h.Handler.Handle(ctx, r)
	panic("the logger failed")
}

// TestGuestLoggerPanics is TestGuestClientBackendPanics with a
// Config.Logger that panics on every record: each backend's panic and
// each failure is logged (logPanic, logFailure) on the host's goroutines
// and on the guest's calls, and the logger's panic costs that record
// only: the process lives on, the guest reads each round's failure, the
// last round works, and nothing is left behind.
func TestGuestLoggerPanics(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, panickyGuest)
	panicCase(t, func(t *testing.T, b *panickyBackend, logs *syncbuf.Buffer) {
		b.plan = clientPanicPlan
		cfg := panicHostConfig(b, logs)
		cfg.Logger = slog.New(panickyHandler{slog.NewTextHandler(logs, nil)})
		runClientPanicRounds(t, p, cfg, b, logs)
		if !strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("no failure was logged (logFailure):\n%s", logs.String())
		}
	})
}
