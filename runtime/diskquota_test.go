package runtime_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/runtime"
)

// TestDiskQuota: a guest under a disk quota of 1 MiB (Limits.DiskBytes)
// cannot make a sparse file of 1 TiB, by setting its size or writing past
// it, nor grow files or make names past the quota, through
// wasi_snapshot_preview1 (fd_filestat_set_size, fd_pwrite, fd_write, with
// and without O_APPEND, path_create_directory, path_open, path_symlink,
// path_link, path_rename to a new name) or wasi:filesystem (set-size, write, write-via-stream,
// append-via-stream, create-directory-at, open-at, symlink-at); a refused
// change writes nothing, and what the guest gives back (a smaller size, a
// truncating open, a removed name) it may use again. Before, the guest
// made a 1 TiB file and grew its files and directories until the disk was
// full. Each guest has its own quota: the second runs as far as the first.
func TestDiskQuota(t *testing.T) {
	rt, compiled := guestRuntime(t, runtime.Config{Limits: runtime.Limits{DiskBytes: 1 << 20}}, "./testdata/diskquota")
	goroutines, fds := goruntime.NumGoroutine(), countFDs(t)
	for _, tt := range []struct {
		api, want string
	}{
		{"p1", `create: ok
set-size 1 TiB (fd_filestat_set_size): quota, size 0
write at 1 TiB (fd_pwrite): quota, size 0
write 512 KiB (fd_write): ok 524288, size 524288
write 600 KiB more (fd_write): quota 0, size 524288
write 600 KiB at 100 KiB (fd_pwrite): ok 614400, size 716800
write 200 KiB at 300 KiB (fd_pwrite, inside): ok 204800, size 716800
append 600 KiB (fd_write, O_APPEND): quota 0, size 716800
set-size 0: ok, size 0
write 900 KiB at 0 after: ok 921600, size 921600
open truncating: ok
mkdir until refused: 255 made, then quota
create one more: quota
symlink one more: quota
link one more: quota
rename to a new name (path_rename): quota
remove a directory: ok
create one more: ok
`},
		{"p2", `create: ok
set-size 1 TiB: quota, size 0
write at 1 TiB: quota, size 0
write 512 KiB: ok 524288, size 524288
write 600 KiB at 100 KiB: ok 614400, size 716800
write-via-stream 800 KiB at 256 KiB: quota 782336, size 1044480
  its error: true
append-via-stream 600 KiB: quota 0, size 1044480
set-size 0: ok, size 0
write 900 KiB at 0 after: ok 921600, size 921600
open truncating: ok, size 0
mkdir until refused: 255 made, then quota
create one more: quota
symlink one more: quota
remove a directory: ok
create one more: ok
`},
	} {
		for _, guest := range []string{"first", "second"} {
			dir := t.TempDir()
			out := runRW(t, rt, compiled, dir, tt.api+", "+guest+" guest", tt.want, "diskquota", tt.api)
			var total int64
			names := 0
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || p == dir {
					return err
				}
				names++
				if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
					total += info.Size()
				}
				return nil
			})
			if total != 0 || names != 256 || strings.Contains(out, "TiB: ok") {
				t.Errorf("%s, %s guest: the host holds %d names, %d bytes of files; want 256 names (254 directories, 2 files) and no bytes", tt.api, guest, names, total)
			}
		}
	}
	settle(t, goroutines, fds)
}

// TestDiskFiles: a guest under a limit of 100 files (Limits.DiskFiles)
// grows 100 files by a byte each, through wasi_snapshot_preview1 or
// wasi:filesystem, and the 101st growth is refused cleanly, quota (EDQUOT
// in preview1), nothing of it written, though its quota of 1 MiB has room
// for 255 names: the host remembers 100 files for it, not one per name it
// could pay for. Removing one makes room for another.
func TestDiskFiles(t *testing.T) {
	rt, compiled := guestRuntime(t, runtime.Config{Limits: runtime.Limits{DiskBytes: 1 << 20, DiskFiles: 100}}, "./testdata/diskquota")
	const want = `grow files until refused: 100 grown, then quota
grow another: quota
remove one: ok
grow one more: ok
`
	for _, api := range []string{"files-p1", "files-p2"} {
		dir := t.TempDir()
		runRW(t, rt, compiled, dir, api, want, "diskquota", api)
		var total int64
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
				total += info.Size()
			}
			return nil
		})
		if total != 100 {
			t.Errorf("%s: the files hold %d bytes, want 100 (the refused growth wrote nothing)", api, total)
		}
	}
}

// runRW runs compiled on rt with args and dir preopened as /rw. The test
// fails if the guest does; a standard output other than want is reported
// under label. runRW returns the standard output.
func runRW(t *testing.T, rt *runtime.Runtime, compiled wazero.CompiledModule, dir, label, want string, args ...string) string {
	t.Helper()
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	mod, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   args,
		Stdout: &stdout, Stderr: &stderr,
		Dirs: []runtime.Dir{{Host: dir, Guest: "/rw"}},
	})
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr: %s", label, err, stdout.String(), stderr.String())
	}
	mod.Close(ctx)
	if got := stdout.String(); got != want {
		t.Errorf("%s: output differs:\n%s", label, lineDiff(got, want))
	}
	return stdout.String()
}
