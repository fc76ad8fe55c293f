//go:build !wasip1

package poll_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/hostcalls"
	"github.com/wasitls/wasitls/runtime"
)

func TestPollerInGuest(t *testing.T) {
	var out bytes.Buffer
	if err := runGuest(t, context.Background(), wazero.NewRuntimeConfig(), guestbuild.MustBuild(t, "./testdata/polltest"),
		runtime.ModuleConfig{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	want := "woken 2000\ndeadline true\ncanceled true\ncanceler before true\n" +
		"canceler during, others 0 true true\ncanceler during, others 3 true true\n" +
		"interrupt true true true\n" +
		"timer late by less than 200ms true\npending 4\n"
	if out.String() != want {
		t.Fatalf("guest printed\n%s\nwant\n%s", out.String(), want)
	}
}

// runGuest runs wasm to its end in a new wazero runtime of cfg with the
// wasitls runtime, closed when t ends, and returns the guest's error.
func runGuest(t *testing.T, ctx context.Context, cfg wazero.RuntimeConfig, wasm []byte, mc runtime.ModuleConfig) error {
	t.Helper()
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.Instantiate(ctx, compiled, mc)
	return err
}

// helperFunc is the poller's helper goroutine's function in the guest.
const helperFunc = "github.com_wasitls_wasitls_guest_poll.helper"

// TestHostCallsPerWait pins what a wait costs in host calls when no other
// goroutine can run: one poll, no timer pollable made and dropped for it
// (the poller's timer is reused until it fires, every poll.MaxBlock), and
// no clock read (no yield) for a goroutine waiting alone. When the others
// are parked in the poller, the one that polls yields at most once per
// wait, to let the waiter it woke run. A goroutine that waits while the main
// goroutine waits for longer (a server's connection goroutine while its
// accept loop waits) takes the rounds over at its first wait and yields
// no more: the main goroutine does not poll for it and switch to it at
// every wait. When the connection goroutine's waits are over, the accept
// loop, back from its yield, polls again itself: a server that starts a
// goroutine per connection needs no helper goroutine, and a yield whose
// goroutine was taken over reads the clock once.
func TestHostCallsPerWait(t *testing.T) {
	const (
		waits    = 200
		maxBlock = 10 * time.Millisecond // poll.MaxBlock
	)
	wasm := guestbuild.MustBuild(t, "./testdata/pollcount")
	for _, mode := range []string{"alone", "parked", "spawned", "server"} {
		t.Run(mode, func(t *testing.T) {
			calls := &hostcalls.Counter{Guest: []string{helperFunc}}
			var out bytes.Buffer
			stdout := calls.StartOn(&out, "ready")
			if err := runGuest(t, calls.Context(context.Background()), wazero.NewRuntimeConfig(), wasm, runtime.ModuleConfig{
				Args: []string{"pollcount", mode, strconv.Itoa(waits)}, Stdout: stdout, Stderr: &out,
			}); err != nil {
				t.Fatalf("guest: %v\n%s", err, out.String())
			}
			elapsed := calls.Elapsed()
			if !strings.HasSuffix(out.String(), "done\n") {
				t.Fatalf("guest printed %q", out.String())
			}
			const (
				clock = "wasi:clocks/monotonic-clock@0.2.8 "
				poll  = "wasi:io/poll@0.2.8 poll"
			)
			n := calls.Counts()
			t.Logf("host calls for %d waits: %v", waits, n)
			// The guest itself subscribes one duration per wait (and the
			// main goroutine's hour when spawned); the poller may make
			// its always-ready pollable once.
			own := waits
			switch mode {
			case "spawned":
				own++
			case "server":
				own = 2*waits + 1 // two for each connection, and the hour
				helper := 0
				for name, c := range n {
					if strings.HasSuffix(name, " "+helperFunc) {
						helper += c
					}
				}
				// It may run for a wait that no goroutine back
				// from its yield takes over; in this pattern none.
				if helper > waits/20 {
					t.Errorf("the helper goroutine ran %d times for %d connections: the accept loop did not take the rounds back when its connection goroutine's waits were over", helper, waits)
				}
			}
			if got := n[clock+"subscribe-duration"]; got > own+1 {
				t.Errorf("%d subscribe-duration calls, want %d (the guest's own) or one more: the poller makes a timer per wait", got, own)
			}
			// The poller's timer is made (now, subscribe-instant) at most
			// once per maxBlock, and ending on it costs one yield (two
			// clock reads). A yield reads the clock twice, once when
			// another goroutine registered a wait meanwhile.
			timers := int(elapsed/maxBlock) + 2
			yieldReads, polls := 0, waits
			switch mode {
			case "parked":
				yieldReads = 2 * waits
			case "spawned":
				yieldReads = 2 * 2 // the main goroutine's, which lets the other one run
			case "server":
				// One yield per connection, the accept loop's, during
				// which the connection goroutine waits.
				yieldReads, polls = waits, 2*waits
			}
			for _, c := range []struct {
				name string
				max  int
			}{
				{poll, polls + timers},
				{clock + "subscribe-instant", timers},
				{clock + "now", 3*timers + yieldReads},
			} {
				if got := n[c.name]; got > c.max {
					t.Errorf("%d calls of %s for %d waits in %v, want at most %d", got, c.name, waits, elapsed, c.max)
				}
			}
		})
	}
}

// TestAcceptLoopLetsConnectionRun: an accept loop that starts a
// connection's goroutine and waits in the poller lets that goroutine run
// before it blocks in poll. Once every 61 scheduling rounds Go's scheduler
// runs the goroutine that yields (on the global run queue) before the one
// just started (on the local one), so one yield in so many comes straight
// back; a poller that took that for "nothing else can run" blocked with
// the connection's goroutine runnable, until the capped timer ended the
// poll. With poll.MaxBlock at an hour, such a poll would not end: the
// guest must finish its connections at once (the context's minute is a
// hang guard only).
func TestAcceptLoopLetsConnectionRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runGuest(t, ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true), guestbuild.MustBuild(t, "./testdata/pollcount"), runtime.ModuleConfig{
		Args: []string{"pollcount", "server", "500", "1h"}, Stdout: &out, Stderr: &out,
	}); err != nil {
		t.Fatalf("guest: %v (the accept loop blocked in poll while its connection's goroutine could run)\n%s", err, out.String())
	}
	if !strings.HasSuffix(out.String(), "done\n") {
		t.Fatalf("guest printed %q", out.String())
	}
}
