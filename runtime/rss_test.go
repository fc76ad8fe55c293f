package runtime_test

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// resetPeakRSS gives the Go heap's free memory back to the system and
// resets the process's peak resident size (Linux), so that peakRSS then
// measures the test that follows. It returns the resident size then, the
// baseline, or 0 where the kernel offers no reset: the caller then skips
// its bound checks.
func resetPeakRSS(t *testing.T) uint64 {
	t.Helper()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset the peak RSS (%v): the host memory bound is not checked", err)
		return 0
	}
	return procStatus(t, "VmRSS:")
}

// peakRSS returns the process's peak resident size since resetPeakRSS,
// in bytes.
func peakRSS(t *testing.T) uint64 {
	t.Helper()
	return procStatus(t, "VmHWM:")
}

// procStatus returns a size field of /proc/self/status, in bytes.
func procStatus(t *testing.T, field string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", field, v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
