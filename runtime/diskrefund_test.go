package runtime_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/runtime"
)

// refundDir is a fresh directory holding what the diskrefund guest
// expects before it starts: big and big2, 2 MiB each, not the guest's.
func refundDir(t *testing.T) string {
	dir := t.TempDir()
	for _, name := range []string{"big", "big2"} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, 2<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dirContents lists the regular files beneath dir with their sizes.
func dirContents(t *testing.T, dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Name()+" "+strconv.FormatInt(info.Size(), 10))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// TestDiskQuotaRefund: a guest under a disk quota of 1 MiB gets back the
// bytes of a file it grew when its removal frees the file, through
// wasi_snapshot_preview1 (path_unlink_file, path_rename) and
// wasi:filesystem (unlink-file-at, rename-at): it writes 256 KiB and
// removes it, or renames it over the last, 40 times (10 MiB in all);
// renaming a file over one gives back the one replaced. Not while the
// file is still held: a removed file it holds open (a wasip1 descriptor;
// a wasi:filesystem input stream whose descriptor was dropped) gives its
// bytes back when closed, not before; one with another hard link, when
// that link is removed. Removing or shrinking a file it never grew (2
// MiB each, there before it started) gives nothing. Before, removing a
// file gave back its name only: the guest was refused after 1 MiB of
// writes in all.
func TestDiskQuotaRefund(t *testing.T) {
	rt, compiled := guestRuntime(t, runtime.Config{Limits: runtime.Limits{DiskBytes: 1 << 20}}, "./testdata/diskrefund")
	const want = `write, remove 40 × 256 KiB: ok
write, rename over 40 × 256 KiB: ok
remove target: ok
write held 768 KiB: ok
hold it open: ok
remove held: ok
write 512 KiB while held: quota
write 512 KiB after release: ok
remove more: ok
write a 768 KiB: ok
link a b: ok
remove a: ok
write 512 KiB while b links it: quota
remove b: ok
write 512 KiB after: ok
remove c: ok
write old 768 KiB: ok
write new 100 KiB: ok
rename new over old: ok
write 512 KiB after: ok
remove old, c: ok, ok
write x 768 KiB: ok
remove big (2 MiB, not the guest's): ok
write 512 KiB after: quota
set-size big2 (2 MiB, not the guest's) 0: ok
write 512 KiB after: quota
remove x: ok
write 512 KiB after: ok
remove y: ok
`
	goroutines, fds := goruntime.NumGoroutine(), countFDs(t)
	for _, api := range []string{"p1", "p2"} {
		dir := refundDir(t)
		runRW(t, rt, compiled, dir, api, want, "diskrefund", api)
		if got := dirContents(t, dir); got != "big2 0" {
			t.Errorf("%s: the directory holds %s; want big2 0", api, got)
		}
	}
	settle(t, goroutines, fds)
}

// TestDiskQuotaRefundTwoGuests: two guests running at once over one
// directory, each under a disk quota of 1 MiB, one through
// wasi_snapshot_preview1 (the owner), one through wasi:filesystem (the
// other). The other removing a file the owner wrote gives the owner its
// bytes back, not the other; a file the owner removes while the other
// holds it open (through a stream) gives the owner nothing until the
// other lets go of it.
func TestDiskQuotaRefundTwoGuests(t *testing.T) {
	ctx := context.Background()
	rt, compiled := guestRuntime(t, runtime.Config{Limits: runtime.Limits{DiskBytes: 1 << 20}}, "./testdata/diskrefund")
	dir := refundDir(t)
	run := func(role string, out *bytes.Buffer) {
		var stderr bytes.Buffer
		mod, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Args:   []string{"diskrefund", role},
			Stdout: out, Stderr: &stderr,
			Dirs: []runtime.Dir{{Host: dir, Guest: "/rw"}},
		})
		if err != nil {
			t.Errorf("%s: %v\nstdout:\n%s\nstderr: %s", role, err, out.String(), stderr.String())
			return
		}
		mod.Close(ctx)
	}
	var owner, other bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); run("other", &other) }()
	run("owner", &owner)
	wg.Wait()
	if want := `write shared 768 KiB: ok
write 768 KiB after the other removed shared: ok
remove after: ok
write held 768 KiB: ok
remove held: ok
write 512 KiB while the other holds it: quota
write 512 KiB after the other let go: ok
`; owner.String() != want {
		t.Errorf("owner: output differs:\n%s", lineDiff(owner.String(), want))
	}
	if want := `write mine 768 KiB: ok
remove shared (the owner's): ok
write 512 KiB after: quota
hold held open: ok
`; other.String() != want {
		t.Errorf("other: output differs:\n%s", lineDiff(other.String(), want))
	}
}

// TestDiskQuotaForeignNames: a guest under a disk quota of 64 KiB that
// wrote 32 KiB and then removed 64 empty files that were there before it
// started is still refused a second 32 KiB: a name it removes gives back
// at most the names it was charged for, never the bytes it wrote. Before,
// each removal gave back NameBytes whoever made the name, the count
// floored at zero: the guest wrote 32 KiB past its quota, and 4 KiB more
// for each name it had not made, up to its quota for each quota's worth
// of names (the files of a preopen, or another guest's over one
// directory). Both interfaces.
func TestDiskQuotaForeignNames(t *testing.T) {
	rt, compiled := guestRuntime(t, runtime.Config{Limits: runtime.Limits{DiskBytes: 64 << 10}}, "./testdata/diskrefund")
	const want = `write a 32 KiB: ok
remove 64 names not the guest's: 64 removed
write b 32 KiB after: quota
remove a: ok
write b 32 KiB after: ok
`
	for _, api := range []string{"p1", "p2"} {
		dir := t.TempDir()
		for i := range 64 {
			if err := os.WriteFile(filepath.Join(dir, "pre"+strconv.Itoa(i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		runRW(t, rt, compiled, dir, api, want, "diskrefund", "names", api)
	}
}
