// Package hostcalls counts a guest's calls of host functions, for tests
// that pin what an operation costs in host calls.
//
// A [Counter] is a wazero function listener factory: put it in the context
// the runtime is created with ([Counter.Context]), start it when the
// measured part begins and read the counts by "module name" (for example
// "wasi:io/poll@0.2.8 poll"). Only host functions (Go functions) are
// counted, and the guest functions named in [Counter.Guest]; the guest's
// other functions get no listener, so that the guest runs at full speed.
package hostcalls

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// A Counter counts host function calls while started.
type Counter struct {
	// Guest names functions of the guest (by their name in the module,
	// such as "github.com_wasitls_wasitls_guest_poll.helper") whose calls
	// are counted too, by "module name" as the host functions are. A Go
	// guest's function counts again each time a parked goroutine resumes
	// in it. Set it before the runtime is created.
	Guest []string

	on      atomic.Bool
	mu      sync.Mutex
	n       map[string]int
	started time.Time
}

// Context returns ctx with c as its function listener factory: a runtime
// created with it reports the calls of its modules' host functions to c.
func (c *Counter) Context(ctx context.Context) context.Context {
	return experimental.WithFunctionListenerFactory(ctx, c)
}

// Start starts counting; calls made before are not counted.
func (c *Counter) Start() {
	c.mu.Lock()
	c.started = time.Now()
	c.mu.Unlock()
	c.on.Store(true)
}

// Elapsed returns the time since Start.
func (c *Counter) Elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Since(c.started)
}

// StartOn returns a writer that passes everything to out and starts c the
// first time a write contains marker: a guest prints the marker on its
// stdout when the measured part begins.
func (c *Counter) StartOn(out io.Writer, marker string) io.Writer {
	return &startWriter{c: c, out: out, marker: []byte(marker)}
}

type startWriter struct {
	c      *Counter
	out    io.Writer
	marker []byte
}

func (w *startWriter) Write(p []byte) (int, error) {
	if !w.c.on.Load() && bytes.Contains(p, w.marker) {
		w.c.Start()
	}
	return w.out.Write(p)
}

// Stop stops counting.
func (c *Counter) Stop() { c.on.Store(false) }

// Counts returns a copy of the counts so far, by "module name".
func (c *Counter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// StackGrowths sums, over the counts so far, the guest's stack growths
// (runtime.copystack) and the frames they adjusted (runtime.adjustframe):
// name both in Guest to count them.
func (c *Counter) StackGrowths() (grown, frames int) {
	for k, v := range c.Counts() {
		switch {
		case strings.HasSuffix(k, " runtime.copystack"):
			grown += v
		case strings.HasSuffix(k, " runtime.adjustframe"):
			frames += v
		}
	}
	return grown, frames
}

// NewFunctionListener implements experimental.FunctionListenerFactory.
func (c *Counter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.GoFunction() == nil && !slices.Contains(c.Guest, def.Name()) {
		return nil
	}
	return c
}

// Before implements experimental.FunctionListener.
func (c *Counter) Before(_ context.Context, _ api.Module, def api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
	if c.on.Load() {
		c.mu.Lock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		c.n[def.ModuleName()+" "+def.Name()]++
		c.mu.Unlock()
	}
}

// After implements experimental.FunctionListener.
func (c *Counter) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

// Abort implements experimental.FunctionListener.
func (c *Counter) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}
