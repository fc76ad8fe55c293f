package runtime_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
)

// stopPaths runs test on a runtime and the hog guest compiled with the
// stop flag and under wazero's checks.
func stopPaths(t *testing.T, test func(t *testing.T, rt *runtime.Runtime, compiled wazero.CompiledModule)) {
	for _, path := range []string{"stop-flag", "checks"} {
		t.Run(path, func(t *testing.T) {
			var rt *runtime.Runtime
			var compiled wazero.CompiledModule
			var err error
			wasm := guestbuild.MustBuild(t, "./testdata/hog")
			if path == "stop-flag" {
				rt = fastRuntime(t, runtime.Config{})
				compiled, err = runtime.CompileModule(context.Background(), rt.Wazero(), wasm)
			} else {
				var r wazero.Runtime
				r, rt = testRuntime(t, runtime.NewRuntimeConfig(), runtime.Config{})
				compiled, err = r.CompileModule(context.Background(), wasm)
			}
			if err != nil {
				t.Fatal(err)
			}
			test(t, rt, compiled)
		})
	}
}

// blockedStops checks that a guest start leaves blocked stops when its
// context is cancelled, past its deadline and when its instance is
// closed. Each comes once the guest is blocked (the deadline too: see
// lateDeadline), so that none, on a loaded machine, comes before the
// guest reaches its blocking call.
func blockedStops(t *testing.T, start func(t *testing.T, ctx context.Context, started func(*runtime.Instance)) <-chan error) {
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := start(t, ctx, nil)
		cancel()
		wantStopped(t, done)
	})
	t.Run("deadline", func(t *testing.T) {
		ctx := newLateDeadline()
		done := start(t, ctx, nil)
		ctx.pass()
		wantExpired(t, done)
	})
	t.Run("close", func(t *testing.T) {
		insts := make(chan *runtime.Instance, 1)
		done := start(t, context.Background(), func(inst *runtime.Instance) { insts <- inst })
		if err := (<-insts).Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		wantStopped(t, done)
	})
}

// A lateDeadline is a context whose deadline passes when the test says so:
// until then its deadline is an hour away; pass makes it now, closes Done
// and makes Err context.DeadlineExceeded, as the deadline of
// context.WithDeadline does when its time comes.
type lateDeadline struct {
	mu       sync.Mutex
	deadline time.Time
	done     chan struct{}
	err      error
}

func newLateDeadline() *lateDeadline {
	return &lateDeadline{deadline: time.Now().Add(time.Hour), done: make(chan struct{})}
}

func (c *lateDeadline) pass() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.deadline, c.err = time.Now(), context.DeadlineExceeded
		close(c.done)
	}
}

func (c *lateDeadline) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, true
}

func (c *lateDeadline) Done() <-chan struct{} { return c.done }

func (c *lateDeadline) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *lateDeadline) Value(any) any { return nil }

// startBlocked instantiates compiled on rt with cfg on a goroutine, waits
// for the guest's first line on ready (one of cfg's writers) and for a
// goroutine of the host blocked in fn, and returns the channel that gets
// Instantiate's error.
func startBlocked(t *testing.T, ctx context.Context, rt *runtime.Runtime, compiled wazero.CompiledModule, cfg runtime.ModuleConfig, ready *lineWriter, fn string) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, cfg)
		done <- err
	}()
	select {
	case <-ready.lines:
	case err := <-done:
		t.Fatalf("guest ended early: %v", err)
	}
	waitBlockedIn(t, fn)
	return done
}

// TestSleepStops: a Go guest sleeping an hour, which its runtime does in
// wasi_snapshot_preview1's poll_oneoff, stops when its context is
// cancelled, past its deadline or when its instance is closed, with the
// stop flag and under wazero's checks alike.
func TestSleepStops(t *testing.T) {
	stopPaths(t, func(t *testing.T, rt *runtime.Runtime, compiled wazero.CompiledModule) {
		blockedStops(t, func(t *testing.T, ctx context.Context, started func(*runtime.Instance)) <-chan error {
			out := &lineWriter{lines: make(chan string, 16)}
			cfg := runtime.ModuleConfig{Args: []string{"hog", "sleep", "3600"}, Stdout: out, Started: started}
			return startBlocked(t, ctx, rt, compiled, cfg, out, "wasi_snapshot_preview1.pollOneoffFn")
		})
	})
}
