//go:build !wasip1

package wasi_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
)

var ratios = flag.Bool("ratios", false, "print the hot-call ratio lines and enforce the limits themselves")

var stopFlag = flag.Bool("stopflag", false, "run the guest with the stop flag (runtime.CompileModule) instead of wazero's termination checks, to compare")

// hotCallLimits are the most the generated wrapper may cost per call as a
// multiple of the bare //go:wasmimport call (internal/hotcalls), measured
// in the same guest process, loops alternating.
var hotCallLimits = map[string]float64{
	// A result<_, stream-error> wrapper is one Go call more than the bare
	// import: it cannot fit the compiler's inlining budget, but it has no
	// branch, so the call adds no termination check (docs/wit2host.md,
	// Guest side).
	"write":       1.3,
	"check-write": 1.3,
	"flush (result<_, stream-error>, no argument)": 1.3,
	// guest/wasi/io's methods convert the error without a branch too
	// (measured 0.90-1.28: three calls of three host calls each).
	"write, check-write and flush through guest/wasi/io (what guest/net calls)": 1.45,
	"subscribe and drop":         1.2,
	"ready":                      1.2,
	"poll into a reused slice":   1.45,
	"poll of one ready pollable": 3.0, // a new slice per call
}

// TestHotCallRatio runs the hotcalls guest and checks that the generated
// bindings cost about what a bare import does on the calls a Go guest makes
// per I/O operation. Timing is noisy on a shared machine, so without
// -ratios a call fails only past twice its limit (a collapse: the wrapper
// no longer inlined, an allocation per call); with -ratios the limits
// themselves hold and the lines are printed.
func TestHotCallRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("timing guest")
	}
	wasm := guestbuild.MustBuild(t, "./internal/hotcalls")
	ctx := context.Background()
	// The runtime's default configuration: with wazero's termination
	// checks, which make every Go call in the guest dearer, so a wrapper
	// that is not inlined shows. -stopflag runs it as the wasitls command
	// does, where the bare import is cheaper and the same wrapper weighs
	// more against it (the limits were set for wazero's checks).
	rc, cfg := runtime.NewRuntimeConfig(), runtime.Config{}
	compile := func(ctx context.Context, r wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
		return r.CompileModule(ctx, wasm)
	}
	if *stopFlag {
		rc, cfg, compile = runtime.NewFastRuntimeConfig(), runtime.Config{StopFlag: true}, runtime.CompileModule
	}
	r := wazero.NewRuntimeWithConfig(ctx, rc)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := compile(ctx, r, wasm)
	if err != nil {
		t.Fatal(err)
	}
	best := map[string]float64{}
	var lines map[string]string
	for attempt := 1; attempt <= 3; attempt++ {
		var stderr bytes.Buffer
		if _, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args: []string{"hotcalls", "20000", "9"}, Stdout: io.Discard, Stderr: &stderr,
		}); err != nil {
			t.Fatalf("guest: %v\n%s", err, stderr.String())
		}
		lines = map[string]string{}
		for line := range strings.Lines(stderr.String()) {
			var ratio float64
			if _, err := fmt.Sscanf(line, "ratio %g ", &ratio); err != nil {
				t.Fatalf("guest line %q", line)
			}
			name, _, _ := strings.Cut(strings.SplitN(line, " ", 3)[2], " (bare")
			if _, ok := hotCallLimits[name]; !ok {
				t.Fatalf("guest measured %q, which has no limit", name)
			}
			lines[name] = strings.TrimSpace(line)
			if b, ok := best[name]; !ok || ratio < b {
				best[name] = ratio
			}
			t.Logf("run %d: %s", attempt, strings.TrimSpace(line))
		}
		if len(lines) != len(hotCallLimits) {
			t.Fatalf("guest measured %d calls, want %d:\n%s", len(lines), len(hotCallLimits), stderr.String())
		}
		within := true
		for name, limit := range hotCallLimits {
			if !*ratios {
				limit *= 2
			}
			within = within && best[name] <= limit
		}
		if within {
			break
		}
	}
	for _, name := range slices.Sorted(maps.Keys(hotCallLimits)) {
		limit := hotCallLimits[name]
		bound, what := 2*limit, "twice the limit"
		if *ratios {
			bound, what = limit, "the limit"
			fmt.Printf("ratio %.3f %s (limit %g)\n", best[name], name, limit)
		}
		if best[name] > bound {
			t.Errorf("%s: the generated call takes %.2f times the bare import in the best of 3 runs, past %s (%.2f)", name, best[name], what, bound)
		}
	}
}
