package bench

import (
	"math"
	"strings"
	"testing"
)

// TestRunSmall runs every scenario at tiny sizes and checks that each
// table has every subject with a positive value.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs guests; skipped in -short mode")
	}
	var progress strings.Builder
	r, err := Run(Options{
		Bytes: 1 << 20, InGuestBytes: 256 << 10, WriteSizes: []int{16 << 10},
		Handshakes: 4, InGuestHandshakes: 2, Echoes: 20,
		IdleConns: 50, NativeIdleConns: 50, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	var out strings.Builder
	r.WriteTo(&out)
	t.Log("\n" + out.String())

	subjects := 2 + len(r.Options.Backends) // native, each backend, in-guest
	// bulk: 2 directions x 1 write size; handshakes: 2 groups x 2 sides;
	// echo: 1.
	if want := 2 + 4 + 1; len(r.Tables) != want {
		t.Fatalf("%d tables; want %d", len(r.Tables), want)
	}
	for _, tab := range r.Tables {
		if len(tab.Rows) != subjects {
			t.Errorf("%s: %d rows; want %d", tab.Title, len(tab.Rows), subjects)
		}
		for _, row := range tab.Rows {
			if row.Value <= 0 {
				t.Errorf("%s: %s: value %v", tab.Title, row.Subject, row.Value)
			}
			if row.Subject != nativeSubject().name && row.VsNative <= 0 {
				t.Errorf("%s: %s: no ratio against native", tab.Title, row.Subject)
			}
		}
	}
	if len(r.Idle) != 1+len(r.Options.Backends) {
		t.Fatalf("%d idle results; want %d", len(r.Idle), 1+len(r.Options.Backends))
	}
	// At 50 connections the heap and RSS deltas are dominated by memory
	// that earlier scenarios release meanwhile (they can come out
	// negative); the command measures at 10,000. What holds at any size:
	// every connection is held, by at least one host goroutine.
	for _, i := range r.Idle {
		if i.Conns != 50 || i.GoroutinesPer < 0.9 || i.PeakRSS == 0 || math.IsNaN(i.HostHeapPerConn) {
			t.Errorf("idle %s: %+v", i.Server, i)
		}
	}
}

func TestRunRejects(t *testing.T) {
	if _, err := Run(Options{Scenarios: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "unknown scenario") {
		t.Errorf("unknown scenario: %v", err)
	}
	if _, err := Run(Options{Backends: []string{"no-such-backend"}}); err == nil {
		t.Error("unknown backend: no error")
	}
}
