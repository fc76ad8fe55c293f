package filesystem

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// TestPreview1 drives the wasi_snapshot_preview1 file system directly:
// each FS and File method against a preopen holding a file, a directory
// and symbolic links in and out, with the answers wazero's own DirFS
// gives (EPERM for paths leading out).
func TestPreview1(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "pre")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644))
	must(os.WriteFile(filepath.Join(tmp, "secret"), []byte("SECRET"), 0o644))
	must(os.Symlink("a.txt", filepath.Join(dir, "in")))
	must(os.Symlink("../secret", filepath.Join(dir, "out")))
	f, _ := newFS(t, Preopen{Host: dir, Guest: "/"})
	p1 := f.Preview1()[0]
	want := func(what string, got, want experimentalsys.Errno) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}

	// Paths leading out, and links.
	_, e := p1.OpenFile("out", experimentalsys.O_RDONLY, 0)
	want("open out", e, experimentalsys.EPERM)
	_, e = p1.OpenFile("../secret", experimentalsys.O_RDONLY, 0)
	want("open ../secret", e, experimentalsys.EPERM)
	_, e = p1.Stat("out")
	want("stat out", e, experimentalsys.EPERM)
	st, e := p1.Lstat("out")
	want("lstat out", e, 0)
	if st.Mode&fs.ModeSymlink == 0 {
		t.Errorf("lstat out: mode %v", st.Mode)
	}
	_, e = p1.OpenFile("in", experimentalsys.O_RDONLY|experimentalsys.O_NOFOLLOW, 0)
	want("open in nofollow", e, experimentalsys.ELOOP)
	_, e = p1.OpenFile("a.txt", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	want("open a.txt as a directory", e, experimentalsys.ENOTDIR)
	want("symlink absolute", p1.Symlink("/etc/passwd", "abs"), experimentalsys.EPERM)
	want("symlink", p1.Symlink("a.txt", "in2"), 0)
	if l, e := p1.Readlink("in2"); e != 0 || l != "a.txt" {
		t.Errorf("readlink in2: %q %v", l, e)
	}
	want("unlink sub", p1.Unlink("sub"), experimentalsys.EISDIR)
	want("rmdir a.txt", p1.Rmdir("a.txt"), experimentalsys.ENOTDIR)
	want("unlink out", p1.Unlink("out"), 0)
	want("mkdir through a missing directory", p1.Mkdir("none/x", 0o755), experimentalsys.ENOENT)
	want("mkdir", p1.Mkdir("sub/d", 0o755), 0)
	want("rmdir", p1.Rmdir("sub/d"), 0)
	want("link", p1.Link("a.txt", "sub/b.txt"), 0)
	want("rename", p1.Rename("sub/b.txt", "sub/c.txt"), 0)
	want("chmod", p1.Chmod("sub/c.txt", 0o600), 0)
	want("utimens", p1.Utimens("in", experimentalsys.UTIME_OMIT, 1_000_000_000_000), 0)
	if st, _ := p1.Stat("a.txt"); st.Mtim != 1_000_000_000_000 {
		t.Errorf("utimens through in: mtim %d", st.Mtim)
	}

	// A file: reads, writes at offsets, append, size, times, close.
	file, e := p1.OpenFile("a.txt", experimentalsys.O_RDWR, 0)
	want("open a.txt", e, 0)
	buf := make([]byte, 5)
	if n, e := file.Read(buf); n != 5 || e != 0 || string(buf) != "hello" {
		t.Errorf("read: %d %v %q", n, e, buf)
	}
	if n, e := file.Read(buf); n != 0 || e != 0 {
		t.Errorf("read at end: %d %v", n, e)
	}
	if off, e := file.Seek(1, io.SeekStart); off != 1 || e != 0 {
		t.Errorf("seek: %d %v", off, e)
	}
	if n, e := file.Pwrite([]byte("J"), 0); n != 1 || e != 0 {
		t.Errorf("pwrite: %d %v", n, e)
	}
	want("set append", file.SetAppend(true), 0)
	if !file.IsAppend() {
		t.Error("not append after SetAppend")
	}
	if n, e := file.Write([]byte("!")); n != 1 || e != 0 {
		t.Errorf("append: %d %v", n, e)
	}
	if n, e := file.Pread(buf[:3], 3); n != 3 || e != 0 || string(buf[:3]) != "lo!" {
		t.Errorf("pread: %d %v %q", n, e, buf[:3])
	}
	want("truncate", file.Truncate(2), 0)
	want("utimens file", file.Utimens(2_000_000_000_000, experimentalsys.UTIME_OMIT), 0)
	want("sync", file.Sync(), 0)
	want("datasync", file.Datasync(), 0)
	st, e = file.Stat()
	if e != 0 || st.Size != 2 || st.Atim != 2_000_000_000_000 {
		t.Errorf("stat: %+v %v", st, e)
	}
	if dir, e := file.IsDir(); dir || e != 0 {
		t.Errorf("isdir: %v %v", dir, e)
	}
	want("close", file.Close(), 0)
	_, e = file.Stat()
	want("stat after close", e, experimentalsys.EBADF)
	if b, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(b) != "Je" {
		t.Errorf("a.txt holds %q", b)
	}

	// A directory: entries without "." and "..", rewinding by seeking to 0.
	d, e := p1.OpenFile(".", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	want("open .", e, 0)
	defer d.Close()
	names := func() []string {
		ents, e := d.Readdir(-1)
		want("readdir", e, 0)
		var out []string
		for _, ent := range ents {
			if ent.Ino == 0 {
				t.Errorf("%s: no inode", ent.Name)
			}
			out = append(out, ent.Name)
		}
		sort.Strings(out)
		return out
	}
	if got := names(); len(got) != 4 || got[0] != "a.txt" || got[3] != "sub" {
		t.Errorf("entries: %v", got)
	}
	_, e = d.Write([]byte("x"))
	want("write a directory", e, experimentalsys.EISDIR)
	must(os.WriteFile(filepath.Join(dir, "late"), nil, 0o644))
	if _, e := d.Seek(0, io.SeekStart); e != 0 {
		t.Errorf("rewind: %v", e)
	}
	if got := names(); len(got) != 5 {
		t.Errorf("entries after rewind: %v", got)
	}

	if b, _ := os.ReadFile(filepath.Join(tmp, "secret")); string(b) != "SECRET" {
		t.Errorf("secret: %q", b)
	}
}

// TestPreview1FileLimit: files wasi_snapshot_preview1 opens count toward
// the same limit as wasi:filesystem's, until closed; wazero's own handle
// on the mount's root does not.
func TestPreview1FileLimit(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := newFS(t, Preopen{Host: dir, Guest: "/"})
	f.SetLimit(2)
	p1 := f.Preview1()[0]
	root, e := p1.OpenFile(".", experimentalsys.O_RDONLY, 0)
	if e != 0 {
		t.Fatalf("the mount's root: %v", e)
	}
	defer root.Close()
	var held []experimentalsys.File
	for i := range 2 {
		file, e := p1.OpenFile("a", experimentalsys.O_RDONLY, 0o600)
		if e != 0 {
			t.Fatalf("open %d: %v", i, e)
		}
		held = append(held, file)
	}
	if _, e := p1.OpenFile(".", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0o600); e != experimentalsys.EIO {
		t.Fatalf("open past the limit: %v", e)
	}
	if _, e := p1.OpenFile("missing", experimentalsys.O_RDONLY, 0o600); e != experimentalsys.EIO {
		t.Fatalf("open of a missing file past the limit: %v", e)
	}
	if n := f.Open(); n != 2 {
		t.Fatalf("open: %d, want 2", n)
	}
	if _, e := f.Preview1()[0].OpenFile("missing", experimentalsys.O_RDONLY, 0o600); e != experimentalsys.EIO {
		t.Fatalf("another mount past the limit: %v", e)
	}
	for _, file := range held {
		file.Close()
		file.Close()
	}
	if n := f.Open(); n != 0 {
		t.Fatalf("open after closing: %d", n)
	}
	if _, e := p1.OpenFile("missing", experimentalsys.O_RDONLY, 0o600); e != experimentalsys.ENOENT {
		t.Fatalf("open of a missing file: %v", e)
	}
	if _, e := p1.OpenFile("a", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0o600); e != experimentalsys.ENOTDIR {
		t.Fatalf("open as a directory: %v", e)
	}
	if n := f.Open(); n != 0 {
		t.Fatalf("open after failed opens: %d", n)
	}
}
