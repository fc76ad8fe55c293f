//go:build !wasip1

package poll_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
)

func TestPollerInGuest(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/polltest"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("guest: %v\n%s", err, out.String())
	}
	want := "woken 2000\ndeadline true\ncanceled true\ntimer late by less than 200ms true\npending 1\n"
	if out.String() != want {
		t.Fatalf("guest printed\n%s\nwant\n%s", out.String(), want)
	}
}

// hostCalls counts the guest's calls of the host functions in names once
// started is set.
type hostCalls struct {
	started atomic.Bool
	start   time.Time
	mu      sync.Mutex
	n       map[string]int
}

func (c *hostCalls) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.GoFunction() == nil {
		return nil
	}
	return c
}

func (c *hostCalls) Before(_ context.Context, _ api.Module, def api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
	if c.started.Load() {
		c.mu.Lock()
		c.n[def.ModuleName()+" "+def.Name()]++
		c.mu.Unlock()
	}
}

func (c *hostCalls) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (c *hostCalls) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}

// startWriter sets started when the guest prints "ready".
type startWriter struct {
	c   *hostCalls
	out bytes.Buffer
}

func (w *startWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("ready")) {
		w.c.start = time.Now()
		w.c.started.Store(true)
	}
	return w.out.Write(p)
}

// TestHostCallsPerWait pins what a wait costs in host calls when no other
// goroutine can run: one poll, no timer pollable made and dropped for it
// (the poller's timer is reused until it fires, every poll.MaxBlock), and
// no clock read (no yield) for a goroutine waiting alone. When the others
// are parked in the poller, the one that polls yields once per wait, to
// let the waiter it woke run.
func TestHostCallsPerWait(t *testing.T) {
	const (
		waits    = 200
		maxBlock = 10 * time.Millisecond // poll.MaxBlock
	)
	wasm := guestbuild.MustBuild(t, "./testdata/pollcount")
	for _, mode := range []string{"alone", "parked"} {
		t.Run(mode, func(t *testing.T) {
			calls := &hostCalls{n: map[string]int{}}
			ctx := experimental.WithFunctionListenerFactory(context.Background(), calls)
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			rt, err := runtime.New(ctx, r, runtime.Config{})
			if err != nil {
				t.Fatal(err)
			}
			compiled, err := r.CompileModule(ctx, wasm)
			if err != nil {
				t.Fatal(err)
			}
			out := &startWriter{c: calls}
			if _, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
				Args: []string{"pollcount", mode, strconv.Itoa(waits)}, Stdout: out, Stderr: out,
			}); err != nil {
				t.Fatalf("guest: %v\n%s", err, out.out.String())
			}
			elapsed := time.Since(calls.start)
			if !strings.HasSuffix(out.out.String(), "done\n") {
				t.Fatalf("guest printed %q", out.out.String())
			}
			const (
				clock = "wasi:clocks/monotonic-clock@0.2.8 "
				poll  = "wasi:io/poll@0.2.8 poll"
			)
			n := calls.n
			t.Logf("host calls for %d waits: %v", waits, n)
			// The guest itself subscribes one duration per wait; the
			// poller may make its always-ready pollable once.
			if got := n[clock+"subscribe-duration"]; got > waits+1 {
				t.Errorf("%d subscribe-duration calls, want %d (the guest's own) or one more: the poller makes a timer per wait", got, waits)
			}
			// The poller's timer is made (now, subscribe-instant) at most
			// once per maxBlock, and ending on it costs one yield (two
			// clock reads).
			timers := int(elapsed/maxBlock) + 2
			yields := 0
			if mode == "parked" {
				yields = waits
			}
			for _, c := range []struct {
				name string
				max  int
			}{
				{poll, waits + timers},
				{clock + "subscribe-instant", timers},
				{clock + "now", 3*timers + 2*yields},
			} {
				if got := n[c.name]; got > c.max {
					t.Errorf("%d calls of %s for %d waits in %v, want at most %d", got, c.name, waits, elapsed, c.max)
				}
			}
		})
	}
}
