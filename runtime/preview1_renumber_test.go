package runtime_test

import (
	goruntime "runtime"
	"testing"

	"github.com/wasitls/wasitls/runtime"
)

// TestPreview1RenumberBound: a wasm guest of one page, limited to 4 files
// and 4 sockets with one preopen, renumbers a file it opened
// (fd_renumber) to 11, the highest descriptor it could hold (3 standard
// streams, 1 preopen, 4 files, 4 sockets), and uses it there; to 12 and
// to 2^24 it gets EBADF, and the host holds nothing more. Before, wazero
// grew the guest's descriptor table to hold any target, 8 bytes for each
// number below it, kept for the guest's life: the renumbering to 2^24
// succeeded and the host's heap grew 129 MiB (to 2^31-1: 16 GiB).
func TestPreview1RenumberBound(t *testing.T) {
	inst := forwarder(t, runtime.Config{Limits: runtime.Limits{Files: 4, Sockets: 4}},
		runtime.ModuleConfig{Dirs: []runtime.Dir{{Host: t.TempDir(), Guest: "/d"}}},
		"path_open", "fd_renumber", "fd_close")
	mod := inst.Module()
	mem := mod.Memory()
	mem.Write(0, []byte("f"))
	call := forwarderCall(t, inst)
	const badf = 8
	if errno := call("path_open", 3, 0, 0, 1, 1, 1<<1|1<<6, 0, 0, 16); errno != 0 {
		t.Fatalf("path_open: errno %d", errno)
	}
	fd, _ := mem.ReadUint32Le(16)
	if errno := call("fd_renumber", uint64(fd), 11); errno != 0 {
		t.Fatalf("fd_renumber to 11: errno %d", errno)
	}
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	for _, to := range []uint64{1 << 24, 12} {
		if errno := call("fd_renumber", 11, to); errno != badf {
			t.Errorf("fd_renumber to %d: errno %d, want EBADF (%d)", to, errno, badf)
			if errno == 0 {
				call("fd_renumber", to, 11) // back, for the next
			}
		}
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("host heap in use grew %d KiB", grew>>10)
	if grew > 16<<20 {
		t.Errorf("the host heap grew %d MiB across the refused renumberings", grew>>20)
	}
	if errno := call("fd_close", 11); errno != 0 {
		t.Errorf("fd_close of the renumbered file: errno %d", errno)
	}
}
