// Package capreporttest records what a capreport.Reporter logs, for the
// tests of the caps that report their refusals.
package capreporttest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/wasitls/wasitls/internal/capreport"
)

// A Recorder keeps the records of capreport.Message logged through its
// logger, and drops the others.
type Recorder struct {
	mu   sync.Mutex
	recs []map[string]string
}

// New returns a logger that records into a new Recorder.
func New() (*slog.Logger, *Recorder) {
	r := new(Recorder)
	return slog.New(handler{r: r}), r
}

// Flags returns the flags the records name, one per record, in order.
func (r *Recorder) Flags() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var flags []string
	for _, rec := range r.recs {
		flags = append(flags, rec["flag"])
	}
	return flags
}

// Check returns an error unless the records are one naming flag with
// value, at level Warn, with the cap's field: as many as want (0 or
// more: each guest logs its own).
func (r *Recorder) Check(flag string, value any, want int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) != want {
		return fmt.Errorf("%d records of a cap's refusal, want %d: %v", len(r.recs), want, r.recs)
	}
	field := ""
	for _, c := range capreport.All() {
		if c.Flag() == flag {
			field = c.Field()
		}
	}
	for _, rec := range r.recs {
		if rec["flag"] != flag || rec["cap"] != field || rec["value"] != fmt.Sprint(value) || rec["level"] != slog.LevelWarn.String() {
			return fmt.Errorf("record %v, want one at WARN naming %s with value %v", rec, flag, value)
		}
		if _, ok := rec["guest"]; !ok {
			return fmt.Errorf("record %v names no guest", rec)
		}
	}
	return nil
}

type handler struct{ r *Recorder }

func (handler) Enabled(context.Context, slog.Level) bool { return true }

func (h handler) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != capreport.Message {
		return nil
	}
	m := map[string]string{"level": rec.Level.String()}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	h.r.mu.Lock()
	h.r.recs = append(h.r.recs, m)
	h.r.mu.Unlock()
	return nil
}

func (h handler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h handler) WithGroup(string) slog.Handler      { return h }
