package runtime_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
)

// hogRuntime returns a runtime with limits and the compiled hog guest.
func hogRuntime(t *testing.T, lim runtime.Limits) (*runtime.Runtime, wazero.CompiledModule) {
	t.Helper()
	return hogRuntimeConfig(t, runtime.Config{Limits: lim})
}

// hogRuntimeConfig returns a runtime made with cfg and the compiled hog
// guest; the wazero runtime closes when the test ends.
func hogRuntimeConfig(t *testing.T, cfg runtime.Config) (*runtime.Runtime, wazero.CompiledModule) {
	t.Helper()
	r, rt := testRuntime(t, runtime.NewRuntimeConfig(), cfg)
	compiled, err := r.CompileModule(context.Background(), guestbuild.MustBuild(t, "./testdata/hog"))
	if err != nil {
		t.Fatal(err)
	}
	return rt, compiled
}

func runHog(rt *runtime.Runtime, compiled wazero.CompiledModule, lim runtime.Limits, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
		Args:   append([]string{"hog"}, args...),
		Stdout: &stdout,
		Stderr: &stderr,
		Limits: lim,
	})
	return stdout.String(), stderr.String(), err
}

// A hogRun is a hog guest running on a goroutine of its own, talked to
// line by line: the test writes its standard input and reads its output.
type hogRun struct {
	lines *bufio.Scanner // its standard output; ends when it does
	stdin *io.PipeWriter // its standard input, closed when the test ends
	done  chan error     // Instantiate's error, once it ended
}

// startHog runs the hog guest with args and limits lim on a goroutine.
func startHog(t *testing.T, rt *runtime.Runtime, compiled wazero.CompiledModule, lim runtime.Limits, args ...string) *hogRun {
	t.Helper()
	pr, pw := io.Pipe()
	stdinR, stdinW := io.Pipe()
	t.Cleanup(func() { stdinW.Close() })
	h := &hogRun{lines: bufio.NewScanner(pr), stdin: stdinW, done: make(chan error, 1)}
	go func() {
		_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
			Args: append([]string{"hog"}, args...), Stdin: stdinR, Stdout: pw, Stderr: os.Stderr, Limits: lim})
		pw.CloseWithError(fmt.Errorf("guest ended: %v", err))
		h.done <- err
	}()
	return h
}

// lastLine returns the last line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// memoryCapMiB is the guest memory cap TestMemoryLimit crosses:
// WASITLS_TEST_MEMORY_MIB raises it (4096 for the wasm32 maximum), at the
// price of as much host memory.
func memoryCapMiB(t *testing.T) int {
	if v := os.Getenv("WASITLS_TEST_MEMORY_MIB"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n < 64 || n > 4096 || n%64 != 0 {
			t.Fatalf("WASITLS_TEST_MEMORY_MIB=%q: want a multiple of 64 up to 4096", v)
		}
		return n
	}
	return 512
}

// A guest allocating without end stops at its memory cap, and the host
// holds no more than the memory the guest touched: at most 1.25 × the cap
// + 100 MiB resident at the peak, with no copy made on growth. Another
// guest of the same runtime, with a larger cap of its own, is not held to
// the first one's.
func TestMemoryLimit(t *testing.T) {
	capMiB := memoryCapMiB(t)
	lim := runtime.Limits{MemoryPages: uint32(capMiB) << 4}
	rt, compiled := hogRuntime(t, lim)
	base := resetPeakRSS(t)
	stdout, stderr, err := runHog(rt, compiled, runtime.Limits{}, "alloc", "0")
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || !strings.Contains(stderr, "out of memory") {
		t.Fatalf("guest allocating past its cap: err %v, stderr %q; want an out-of-memory exit", err, tail(stderr))
	}
	var reached int
	fmt.Sscanf(lastLine(stdout), "allocated %d MiB", &reached)
	if reached < capMiB/2 || reached > capMiB {
		t.Errorf("guest allocated %d MiB under a cap of %d MiB", reached, capMiB)
	}
	if base != 0 {
		// The test process holds the earlier tests' state too: the bound
		// applies to what this guest added.
		peak := peakRSS(t)
		bound := uint64(capMiB)<<20*5/4 + 100<<20
		t.Logf("cap %d MiB, guest reached %d MiB, host RSS %d MiB before, peak %d MiB (+%d MiB, bound +%d MiB)",
			capMiB, reached, base>>20, peak>>20, (peak-base)>>20, bound>>20)
		if peak-base > bound {
			t.Errorf("host peak RSS grew by %d MiB, more than 1.25 × the %d MiB cap + 100 MiB", (peak-base)>>20, capMiB)
		}
	}

	// The cap is per guest: one allowed more gets more, one allowed less
	// gets less.
	if capMiB < 4096 {
		more := capMiB + 32
		stdout, stderr, err = runHog(rt, compiled, runtime.Limits{MemoryPages: uint32(capMiB+64) << 4}, "alloc", fmt.Sprint(more))
		if err != nil || lastLine(stdout) != fmt.Sprintf("allocated %d MiB", more) {
			t.Errorf("guest with a larger cap: err %v, last line %q, stderr %q", err, lastLine(stdout), tail(stderr))
		}
	}
	stdout, _, err = runHog(rt, compiled, runtime.Limits{MemoryPages: 64 << 4}, "alloc", "0")
	fmt.Sscanf(lastLine(stdout), "allocated %d MiB", &reached)
	if !errors.As(err, &exit) || reached >= 64 {
		t.Errorf("guest with a 64 MiB cap: err %v, reached %d MiB", err, reached)
	}
}

// A guest declaring more memory than its cap is not instantiated.
func TestMemoryLimitBelowMinimum(t *testing.T) {
	rt, compiled := hogRuntime(t, runtime.Limits{MemoryPages: 1})
	_, _, err := runHog(rt, compiled, runtime.Limits{}, "alloc", "1")
	if err == nil || !strings.Contains(err.Error(), "more than the limit of 1 pages") || !strings.Contains(err.Error(), "MemoryPages") {
		t.Fatalf("err %v, want the memory limit named", err)
	}
}

// A guest creating 10 million clock pollables and dropping none traps at
// the default handle limit, with a message naming the limit and the
// function; the host's peak resident memory grows by less than 256 MiB
// and every pollable is released. Another guest of the runtime then runs normally.
func TestHandleLimit(t *testing.T) {
	rt, compiled := hogRuntime(t, runtime.Limits{})
	goroutines := goruntime.NumGoroutine()
	base := resetPeakRSS(t)
	stdout, _, err := runHog(rt, compiled, runtime.Limits{}, "pollables", "10000000")
	var trap *cabi.Trap
	if !errors.As(err, &trap) {
		t.Fatalf("err %v (stdout %q), want a trap", err, lastLine(stdout))
	}
	if trap.Func != "wasi:clocks/monotonic-clock@0.2.8#subscribe-duration" ||
		!strings.Contains(trap.Msg, "resource table limit reached") || !strings.Contains(trap.Msg, "runtime.Limits.Handles") ||
		!strings.Contains(trap.Msg, fmt.Sprint(cabi.DefaultHandleLimit)) {
		t.Errorf("trap %v, want the function and the handle limit named", trap)
	}
	if want := fmt.Sprintf("pollables %d", cabi.DefaultHandleLimit/100000*100000); lastLine(stdout) != want {
		t.Errorf("guest got to %q, want %q", lastLine(stdout), want)
	}
	if base != 0 {
		peak := peakRSS(t)
		// wasitls run, which holds nothing else, peaks at about 130 MiB;
		// the test process holds the earlier tests' state too.
		t.Logf("host RSS %d MiB before, peak %d MiB (+%d MiB)", base>>20, peak>>20, (peak-base)>>20)
		if peak-base > 256<<20 {
			t.Errorf("host peak RSS grew by %d MiB, want under 256 MiB", (peak-base)>>20)
		}
	}
	waitGoroutines(t, goroutines)

	stdout, _, err = runHog(rt, compiled, runtime.Limits{}, "pollables", "1000")
	if err != nil || lastLine(stdout) != "pollables 1000" {
		t.Errorf("next guest: err %v, stdout %q", err, stdout)
	}
	// A lower per-guest limit applies to that guest alone.
	_, _, err = runHog(rt, compiled, runtime.Limits{Handles: 10}, "pollables", "11")
	if !errors.As(err, &trap) || !strings.Contains(trap.Msg, "holds 10 handles") {
		t.Errorf("guest with 10 handles: err %v, want the limit trap", err)
	}
}

// Past its socket limit a guest gets new-socket-limit; the count is per
// guest, so two guests each get their full share, at the same time.
func TestSocketLimitPerGuest(t *testing.T) {
	rt, compiled := hogRuntime(t, runtime.Limits{Sockets: 20})
	const newSocketLimit = 10 // wasi:sockets/network error-code new-socket-limit
	results := make(chan string, 2)
	for range 2 {
		go func() {
			stdout, _, err := runHog(rt, compiled, runtime.Limits{}, "sockets", "100")
			results <- fmt.Sprintf("%s %v", lastLine(stdout), err)
		}()
	}
	for range 2 {
		if got, want := <-results, fmt.Sprintf("socket 21: error %d <nil>", newSocketLimit); got != want {
			t.Errorf("guest: %q, want %q", got, want)
		}
	}
	stdout, _, err := runHog(rt, compiled, runtime.Limits{Sockets: 3}, "sockets", "100")
	if err != nil || lastLine(stdout) != fmt.Sprintf("socket 4: error %d", newSocketLimit) {
		t.Errorf("guest with 3 sockets: %q, %v", lastLine(stdout), err)
	}
}

// waitGoroutines waits, up to a deadline, for the goroutine count to come
// back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines, want at most %d", goruntime.NumGoroutine(), n)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(s string) string {
	if len(s) > 400 {
		return "..." + s[len(s)-400:]
	}
	return s
}

// TestNegativeLimitsAreDefaults: a negative field of runtime.Limits, in
// Config.Limits or ModuleConfig.Limits, means its default, as zero does:
// no value turns a limit off.
func TestNegativeLimitsAreDefaults(t *testing.T) {
	ctx := context.Background()
	var negative runtime.Limits
	v := reflect.ValueOf(&negative).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.CanInt() {
			f.SetInt(-1)
		}
	}
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	compiled, err := r.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	if err != nil {
		t.Fatal(err)
	}
	limits := func(rtLimits, guestLimits runtime.Limits) runtime.Limits {
		t.Helper()
		rt, err := runtime.New(ctx, r, runtime.Config{Limits: rtLimits})
		if err != nil {
			t.Fatal(err)
		}
		inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Limits: guestLimits})
		if err != nil {
			t.Fatal(err)
		}
		defer inst.Close(ctx)
		return inst.Limits()
	}
	defaults := limits(runtime.Limits{}, runtime.Limits{})
	if got := limits(negative, runtime.Limits{}); got != defaults {
		t.Errorf("Config.Limits all negative: %+v, want the defaults %+v", got, defaults)
	}
	if got := limits(runtime.Limits{}, negative); got != defaults {
		t.Errorf("ModuleConfig.Limits all negative: %+v, want the defaults %+v", got, defaults)
	}
}
