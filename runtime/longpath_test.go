//go:build linux

// The guest's memory is a reservation outside the Go heap on Linux only
// (memory_linux.go); elsewhere it is a Go slice, which the heap these
// tests measure would count.

package runtime_test

import (
	"bytes"
	"context"
	"io"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/syncbuf"
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

// TestDeepDescriptorPaths: a wasm guest walks down a tree of directories
// it makes, 255-byte names, through wasi:filesystem descriptors, dropping
// each parent, and opens 200 descriptors at the bottom: the walk stops
// with name-too-long once a descriptor's path from its preopen would pass
// filesystem.MaxPath (16 levels), and the host holds little for the 200.
// Each descriptor, and the os.Root beneath it, keeps its path: before,
// the walk went down the 3,000 levels asked and the 200 descriptors made
// the host hold 293 MiB (a guest's default 4 GiB quota pays for 150 times
// as deep).
func TestDeepDescriptorPaths(t *testing.T) {
	rt, compiled := guestRuntime(t, runtime.Config{}, "./testdata/longpath")
	ctx := context.Background()
	stdin, release := io.Pipe()
	defer release.Close()
	stdout := &syncbuf.Buffer{}
	var stderr bytes.Buffer
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() {
		mod, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args:  []string{"longpath", "deep", "3000"},
			Stdin: stdin, Stdout: stdout, Stderr: &stderr,
			Dirs: []runtime.Dir{{Host: t.TempDir(), Guest: "/d"}},
		})
		if err == nil {
			mod.Close(ctx)
		}
		done <- err
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(stdout.String(), "held\n") {
		select {
		case err := <-done:
			t.Fatalf("the guest ended before holding its descriptors: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guest did not hold its descriptors within 2 minutes; stdout: %s", stdout.String())
		}
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	release.Close()
	if err := <-done; err != nil {
		t.Fatalf("guest: %v\nstderr: %s", err, stderr.String())
	}
	held := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("%sthe host's heap in use %d MiB larger", strings.ReplaceAll(stdout.String(), "\n", "; "), held>>20)
	if want := "16 levels down, then name-too-long\n200 descriptors there, then ok\nheld\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	if held > 32<<20 {
		t.Errorf("200 descriptors at the bottom: the host's heap in use %d MiB larger", held>>20)
	}
}
