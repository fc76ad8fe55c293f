package runtime_test

import (
	"fmt"
	goruntime "runtime"
	"strconv"
	"testing"

	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// TestPollDuplicatesHoldNothing: what a poll registers with the subjects
// of its pollables ends with the call, however often its list names one.
// A guest polling each of 8 listeners' pollables a million times over
// (beside a 300 ms timer, nobody connecting) grows the host's heap by a few
// MiB once the polls are over. Before, each subject kept the array its
// list of waiters had grown to, 8 bytes an entry, for as long as it
// lived: 80 MiB for these, and a guest under the default 4 GiB memory
// limit could make each of its subjects keep gigabytes.
func TestPollDuplicatesHoldNothing(t *testing.T) {
	const n, k = 1 << 20, 8
	policy := &sockets.Policy{}
	if err := policy.AllowListen("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy})
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	hog := startHog(t, rt, compiled, runtime.Limits{}, "dupes", strconv.Itoa(n), strconv.Itoa(k))
	if !hog.lines.Scan() || hog.lines.Text() != fmt.Sprintf("polled %d", k) {
		t.Fatalf("guest: %q", hog.lines.Text())
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	hog.stdin.Close()
	if err := <-hog.done; err != nil {
		t.Fatal(err)
	}
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d polls of %d duplicates: heap grew by %d KiB", k, n, grew>>10)
	if grew > 16<<20 {
		t.Errorf("after %d polls of a pollable listed %d times, the host's heap grew by %d MiB, want under 16", k, n, grew>>20)
	}
}
