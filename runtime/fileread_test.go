package runtime_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"testing"

	"github.com/wasitls/wasitls/runtime"
)

// TestFileReadAllocs: a Go guest reads a 1 MiB file whole, 1 MiB a call
// (wasi:filesystem's descriptor.read through guest/fs's ReadAt), 8 times
// and 72 times; the 64 reads more make the host allocate at most 64 KiB
// each, where the host allocated the 1 MiB it read into on every call.
func TestFileReadAllocs(t *testing.T) {
	if raceDetector {
		t.Skip("with -race, sync.Pool drops a quarter of what is put back at random: the host's allocations are not what they are without it")
	}
	ctx := context.Background()
	rt, compiled := guestRuntime(t, runtime.Config{}, "./testdata/readloop")
	dir := t.TempDir()
	const size = 1 << 20
	if err := os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("b"), size), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(n int) uint64 {
		t.Helper()
		var out bytes.Buffer
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args: []string{"readloop", strconv.Itoa(n), strconv.Itoa(size)}, Stdout: &out,
			Dirs: []runtime.Dir{{Host: dir, Guest: "/d", ReadOnly: true}},
		})
		goruntime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		inst.Close(ctx)
		if got, want := out.String(), strconv.Itoa(n*size)+"\n"; got != want {
			t.Fatalf("guest printed %q, want %q", got, want)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	run(8) // warm up
	few, many := run(8), run(72)
	perRead := (int64(many) - int64(few)) / 64
	t.Logf("host bytes allocated per 1 MiB read: %d (8 reads: %d, 72 reads: %d)", perRead, few, many)
	if perRead > 64<<10 {
		t.Errorf("the host allocated %d bytes per 1 MiB read, want at most 64 KiB", perRead)
	}
}
