package runtime_test

import (
	"bytes"
	"context"
	goruntime "runtime"
	"testing"

	"github.com/wasitls/wasitls/runtime"
)

// TestLongPathCost: a wasm guest stats a path of 16 MiB ("a/a/a/...")
// beneath its preopen, through wasi_snapshot_preview1 and through
// wasi:filesystem: it fails with name-too-long (ENAMETOOLONG), and the
// host allocates for it at most four times the path (wazero's and the
// canonical ABI's copies of it), measured against a path of one byte.
// Before, os.Root split the path into one string header per component
// before looking at any, and its error carried the whole path: the call
// allocated 47 times the path (3 GiB for 64 MiB, in 5 s of host CPU that
// no context could end), past what the guest's memory cap lets it hold.
func TestLongPathCost(t *testing.T) {
	rt, compiled := guestRuntime(t, runtime.Config{}, "./testdata/longpath")
	ctx := context.Background()
	dir := t.TempDir()
	run := func(api, mib string) (string, uint64) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		var before, after goruntime.MemStats
		goruntime.GC()
		goruntime.ReadMemStats(&before)
		mod, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args:   []string{"longpath", api, mib},
			Stdout: &stdout, Stderr: &stderr,
			Dirs: []runtime.Dir{{Host: dir, Guest: "/d"}},
		})
		goruntime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("%s %s MiB: %v\nstderr: %s", api, mib, err, stderr.String())
		}
		mod.Close(ctx)
		return stdout.String(), after.TotalAlloc - before.TotalAlloc
	}
	const mib = 16
	for _, api := range []string{"p1", "p2"} {
		short, base := run(api, "0")
		if short != "no-entry\n" {
			t.Errorf("%s: stat of a: %q, want no-entry", api, short)
		}
		long, alloc := run(api, "16")
		if long != "name-too-long\n" {
			t.Errorf("%s: stat of a 16 MiB path: %q, want name-too-long", api, long)
		}
		extra := int64(alloc) - int64(base)
		t.Logf("%s: a 16 MiB path made the host allocate %d MiB more than a 1-byte one", api, extra>>20)
		if extra > 4*mib<<20 {
			t.Errorf("%s: a 16 MiB path made the host allocate %d MiB more than a 1-byte one, past %d", api, extra>>20, 4*mib)
		}
	}
}
