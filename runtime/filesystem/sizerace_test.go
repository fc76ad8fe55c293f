//go:build unix

package filesystem

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// TestShrinkDuringGrowth: two guests share a file the first grew to
// 1 MiB. The second writes 4 KiB at 1 MiB (past the end it read) while
// the first sets its size to 0, or opens it truncating, in between the
// second's status read and its write. The quotas must count at least the
// file's size after both: before, the write was measured against the
// size read before the shrink (1 MiB + 4 KiB - 1 MiB: 4 KiB charged)
// while the shrink gave the first guest its 1 MiB back, and the file held
// 1 MiB + 4 KiB (a hole the guests could then fill uncounted), 1 MiB
// more than counted at each such race, which two guests hammering one
// file won about once in 2,000 tries.
//
// The second guest's write is stopped between its status read and its
// write by holding its quota's lock (it reserves the 4 KiB there), then
// let go once the shrink made its change or waits for the file.
func TestShrinkDuringGrowth(t *testing.T) {
	for _, how := range []string{"set-size", "truncating open"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			a, apre := newFS(t, Preopen{Host: dir, Guest: "/"})
			b, bpre := newFS(t, Preopen{Host: dir, Guest: "/"})
			rw := types.DescriptorFlagsRead | types.DescriptorFlagsWrite
			af, err := apre[0].OpenAt(ctx, 0, "f", types.OpenFlagsCreate, rw)
			if err != nil {
				t.Fatal(err)
			}
			defer af.Drop()
			if err := af.(*Descriptor).SetSize(ctx, 1<<20); err != nil {
				t.Fatal(err)
			}
			bf, err := bpre[0].OpenAt(ctx, 0, "f", 0, rw)
			if err != nil {
				t.Fatal(err)
			}
			defer bf.Drop()

			b.disk.mu.Lock()
			wrote := make(chan error, 1)
			go func() {
				_, err := bf.(*Descriptor).Write(ctx, make([]byte, 4096), 1<<20)
				wrote <- err
			}()
			waitStack(t, "(*diskQuota).reserve")
			shrunk := make(chan error, 1)
			go func() {
				if how == "set-size" {
					shrunk <- af.(*Descriptor).SetSize(ctx, 0)
					return
				}
				fd, err := apre[0].OpenAt(ctx, 0, "f", types.OpenFlagsTruncate, rw)
				if err == nil {
					fd.Drop()
				}
				shrunk <- err
			}()
			for deadline := time.Now().Add(10 * time.Second); ; {
				if info, err := os.Stat(filepath.Join(dir, "f")); err == nil && info.Size() == 0 {
					break // the shrink ran first
				}
				if stackHas("filesystem.lockFile") {
					break // the shrink waits for the write
				}
				if time.Now().After(deadline) {
					b.disk.mu.Unlock()
					t.Fatal("the shrink neither ran nor waited after 10 s")
				}
				time.Sleep(time.Millisecond)
			}
			b.disk.mu.Unlock()
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			if err := <-shrunk; err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(filepath.Join(dir, "f"))
			if err != nil {
				t.Fatal(err)
			}
			if used := a.DiskUsed() + b.DiskUsed(); used < NameBytes+info.Size() {
				t.Errorf("the guests' quotas count %d bytes, their file holds %d and a name", used, info.Size())
			}
		})
	}
}

// stackHas reports whether a goroutine's stack names fn.
func stackHas(fn string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
}

// waitStack waits, at most 10 s, for a goroutine's stack to name fn.
func waitStack(t *testing.T, fn string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !stackHas(fn); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine reached %s in 10 s", fn)
		}
	}
}
