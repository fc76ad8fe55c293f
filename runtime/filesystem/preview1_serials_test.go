//go:build unix

package filesystem

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// TestPreview1HidesSerials: the device and inode numbers a
// wasi_snapshot_preview1 guest reads (fd_filestat_get, path_filestat_get,
// fd_readdir's d_ino, its "." entry) are not the host's, which told it
// the host's device and the order files beside its preopen were made in
// (before, they were the host's, where wasi:filesystem's metadata hashes
// already hid them). They still tell one file from another: a file's are
// the same through two paths (a hard link), by path and by descriptor,
// in a directory listing, and differ between files; another guest reads
// others.
func TestPreview1HidesSerials(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "b"), []byte("b"), 0o644)
	os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "sub", "hard"))
	host := func(name string) *syscall.Stat_t {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return info.Sys().(*syscall.Stat_t)
	}
	f, _ := newFS(t, Preopen{Host: dir, Guest: "/"})
	p1 := f.Preview1()[0]
	stat := func(name string) (dev, ino uint64) {
		t.Helper()
		st, errno := p1.Stat(name)
		if errno != 0 {
			t.Fatalf("stat %s: %v", name, errno)
		}
		return st.Dev, st.Ino
	}
	devA, inoA := stat("a")
	hostA := host("a")
	if inoA == hostA.Ino || devA == uint64(hostA.Dev) || inoA == 0 {
		t.Errorf("stat a: device %d inode %d, the host's %d and %d", devA, inoA, hostA.Dev, hostA.Ino)
	}
	if dev, ino := stat("sub/hard"); dev != devA || ino != inoA {
		t.Errorf("a hard link of a reads as device %d inode %d, a as %d %d", dev, ino, devA, inoA)
	}
	if dev, ino := stat("b"); dev != devA || ino == inoA {
		t.Errorf("b reads as device %d inode %d, a as %d %d", dev, ino, devA, inoA)
	}
	if st, errno := p1.Lstat("a"); errno != 0 || st.Ino != inoA || st.Dev != devA {
		t.Errorf("lstat a: %d %d %v", st.Dev, st.Ino, errno)
	}
	file, errno := p1.OpenFile("a", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer file.Close()
	if st, errno := file.Stat(); errno != 0 || st.Ino != inoA || st.Dev != devA {
		t.Errorf("fstat a: %d %d %v", st.Dev, st.Ino, errno)
	}
	if ino, _ := file.Ino(); ino != inoA {
		t.Errorf("a's Ino: %d", ino)
	}
	if dev, _ := file.Dev(); dev != devA {
		t.Errorf("a's Dev: %d", dev)
	}
	d, errno := p1.OpenFile(".", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0o600)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer d.Close()
	_, inoDot := stat(".")
	if ino, _ := d.Ino(); ino != inoDot || ino == host(".").Ino {
		t.Errorf("the directory's Ino %d, its stat's %d, the host's %d", ino, inoDot, host(".").Ino)
	}
	dirents, errno := d.Readdir(-1)
	if errno != 0 {
		t.Fatal(errno)
	}
	for _, e := range dirents {
		_, ino := stat(e.Name)
		if e.Ino != ino || e.Ino == host(e.Name).Ino {
			t.Errorf("entry %s: inode %d, its stat's %d, the host's %d", e.Name, e.Ino, ino, host(e.Name).Ino)
		}
	}
	g, _ := newFS(t, Preopen{Host: dir, Guest: "/"})
	if st, _ := g.Preview1()[0].Stat("a"); st.Ino == inoA || st.Dev == devA {
		t.Error("another guest reads the same numbers")
	}
}
