//go:build linux

package runtime_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wasitls/wasitls/runtime"
)

// TestPreview1PwriteAppendQuota: a wasm guest under a 256 KiB disk quota
// opens a file without O_APPEND, writes 32 KiB, turns O_APPEND on
// (fd_fdstat_set_flags) and writes 32 KiB at offset 0 with fd_pwrite, a
// hundred times. Linux's pwrite(2) on a file in append mode writes at the
// end whatever the offset, so each call grows the file by 32 KiB: the
// quota reserves that growth and refuses it past the limit (EDQUOT).
// Before, the quota reckoned each write to end at 32 KiB, inside the
// file, reserved nothing and refused none: 100 accepted, 3.2 MiB on disk
// under the 256 KiB quota, and as much more as the guest liked.
func TestPreview1PwriteAppendQuota(t *testing.T) {
	dir := t.TempDir()
	const quota = 256 << 10
	inst := forwarder(t, runtime.Config{Limits: runtime.Limits{DiskBytes: quota}},
		runtime.ModuleConfig{Dirs: []runtime.Dir{{Host: dir, Guest: "/d"}}},
		"path_open", "fd_write", "fd_pwrite", "fd_fdstat_set_flags")
	mod := inst.Module()
	mem := mod.Memory()
	mem.Write(0, []byte("f"))
	const (
		opened  = 16
		iov     = 32 // one iovec: 32 KiB at 1024
		written = 48
		buf     = 1024
		size    = 32 << 10
		creat   = 1
		append  = 1
		rights  = 1<<1 | 1<<6 | 1<<2 | 1<<3 // fd_read, fd_write, fd_seek, fd_fdstat_set_flags
	)
	mem.WriteUint32Le(iov, buf)
	mem.WriteUint32Le(iov+4, size)
	call := forwarderCall(t, inst)
	if errno := call("path_open", 3, 0, 0, 1, creat, rights, 0, 0, opened); errno != 0 {
		t.Fatalf("path_open: errno %d", errno)
	}
	fd, _ := mem.ReadUint32Le(opened)
	if errno := call("fd_write", uint64(fd), iov, 1, written); errno != 0 {
		t.Fatalf("fd_write: errno %d", errno)
	}
	if errno := call("fd_fdstat_set_flags", uint64(fd), append); errno != 0 {
		t.Fatalf("fd_fdstat_set_flags append: errno %d", errno)
	}
	ok, refused := 0, 0
	for range 100 {
		switch errno := call("fd_pwrite", uint64(fd), iov, 1, 0, written); errno {
		case 0:
			ok++
		case 19: // EDQUOT
			refused++
		default:
			t.Fatalf("fd_pwrite: errno %d", errno)
		}
	}
	info, err := os.Stat(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pwrites accepted, %d refused; the file holds %d KiB under a %d KiB quota", ok, refused, info.Size()>>10, quota>>10)
	if info.Size() > quota {
		t.Errorf("the file holds %d bytes, past the %d-byte quota", info.Size(), quota)
	}
	if refused == 0 {
		t.Error("no pwrite was refused for the quota")
	}
}
