package runtime_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wasitls/wasitls/runtime"
)

// TestPreview1ReadOnlyOpen: a wasm guest's path_open on a read-only
// preopen, with O_CREAT or O_TRUNC but only the fd_read right (wazero
// then opens for reading alone, O_RDONLY|O_CREAT|O_TRUNC), fails with
// EROFS and leaves the directory as it was: the file keeps its bytes and
// no file is made. Before, sysfs.ReadFS looked at the access mode only,
// and let such an open through: the guest truncated the 5-byte file to
// nothing and made new files beneath the read-only preopen.
func TestPreview1ReadOnlyOpen(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := forwarder(t, runtime.Config{},
		runtime.ModuleConfig{Dirs: []runtime.Dir{{Host: dir, Guest: "/ro", ReadOnly: true}}}, "path_open")
	mod := inst.Module()
	mem := mod.Memory()
	const (
		opened = 16
		creat  = 1
		excl   = 4
		trunc  = 8
		fdRead = 1 << 1
		erofs  = 69
	)
	for _, c := range []struct {
		name   string
		oflags uint64
	}{
		{"victim", trunc},
		{"victim", creat | trunc},
		{"new", creat},
		{"new2", creat | excl},
		{"new3", creat | trunc},
	} {
		mem.Write(0, []byte(c.name))
		res, err := mod.ExportedFunction("path_open").Call(inst.Context(), 3, 0, 0, uint64(len(c.name)), c.oflags, fdRead, 0, 0, opened)
		if err != nil {
			t.Fatal(err)
		}
		if res[0] != erofs {
			t.Errorf("path_open %s with oflags %d and fd_read: errno %d, want EROFS (%d)", c.name, c.oflags, res[0], erofs)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "hello" {
		t.Errorf("the read-only preopen's file holds %q, want %q", b, "hello")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the read-only preopen holds %q, want the one file", names)
	}
}
