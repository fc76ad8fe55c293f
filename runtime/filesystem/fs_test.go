package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

func newFS(t *testing.T, dirs ...Preopen) (*FS, []*Descriptor) {
	t.Helper()
	f, err := New(dirs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var ds []*Descriptor
	for _, d := range f.Directories() {
		ds = append(ds, d.F0.(*Descriptor))
	}
	return f, ds
}

// newFileDirFS returns an FS whose one preopen holds a file "a" and a
// directory "d".
func newFileDirFS(t *testing.T) (*FS, []*Descriptor) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	return newFS(t, Preopen{Host: dir, Guest: "/"})
}

func TestFileLimit(t *testing.T) {
	ctx := context.Background()
	f, pre := newFileDirFS(t)
	f.SetLimit(3)
	var held []types.Descriptor
	for i := range 3 {
		p := "a"
		if i == 1 {
			p = "d"
		}
		d, err := pre[0].OpenAt(ctx, 0, p, 0, types.DescriptorFlagsRead)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		held = append(held, d)
	}
	if _, err := pre[0].OpenAt(ctx, 0, "a", 0, types.DescriptorFlagsRead); err != InsufficientMemory {
		t.Fatalf("open past the limit: %v", err)
	}
	if _, err := pre[0].ReadDirectory(ctx); err != InsufficientMemory {
		t.Fatalf("read-directory past the limit: %v", err)
	}
	// A stream over a file counts as an open file: it holds a goroutine
	// and what it reads ahead.
	if _, err := held[0].ReadViaStream(ctx, 0); err != InsufficientMemory {
		t.Fatalf("read-via-stream past the limit: %v", err)
	}
	held[1].Drop()
	// A stream keeps its file open after the descriptor is dropped.
	in, err := held[0].ReadViaStream(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range held {
		d.Drop()
	}
	if n := f.Open(); n != 2 {
		t.Fatalf("open after dropping the descriptors: %d, want 2 (the stream's file and the stream)", n)
	}
	in.Drop()
	if n := f.Open(); n != 0 {
		t.Fatalf("open after dropping the stream: %d", n)
	}
}

func TestCrossDevice(t *testing.T) {
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(a, "x"), nil, 0o644)
	_, pre := newFS(t, Preopen{Host: a, Guest: "/a"}, Preopen{Host: b, Guest: "/b"})
	if err := pre[0].RenameAt(ctx, "x", pre[1], "x"); err != CrossDevice {
		t.Fatalf("rename across preopens: %v", err)
	}
	if err := pre[0].LinkAt(ctx, 0, "x", pre[1], "x"); err != CrossDevice {
		t.Fatalf("link across preopens: %v", err)
	}
	if err := pre[0].LinkAt(ctx, 0, "x", pre[0], "y"); err != nil {
		t.Fatalf("link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a, "y")); err != nil {
		t.Fatal(err)
	}
}

func TestCodeOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want ErrorCode
		ok   bool
	}{
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}, NoEntry, true},
		{fmt.Errorf("wrapped: %w", syscall.EXDEV), CrossDevice, true},
		{syscall.EROFS, ReadOnly, true},
		{syscall.Errno(0x7fff), IO, true},
		{fs.ErrNotExist, NoEntry, true},
		{ReadOnly, ReadOnly, true},
		{errors.New("something else"), 0, false},
		{nil, 0, false},
	} {
		got, ok := CodeOf(c.err)
		if got != c.want || ok != c.ok {
			t.Errorf("CodeOf(%v) = %v, %v; want %v, %v", c.err, got, ok, c.want, c.ok)
		}
	}
}

func TestMissingPreopen(t *testing.T) {
	if _, err := New([]Preopen{{Host: filepath.Join(t.TempDir(), "nope"), Guest: "/"}}); err == nil {
		t.Fatal("a missing preopen directory was accepted")
	}
}

// TestPathDrift: functions that go through the path a descriptor was
// opened by refuse when it no longer leads there; set-times on a file
// acts on the open file where the host can (Linux), so a rename does not
// stop it.
func TestPathDrift(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.Mkdir(filepath.Join(dir, "c"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "x"), nil, 0o644)
	os.Symlink("a/b", filepath.Join(dir, "link"))
	_, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
	// link/.. is a physically, but "." lexically.
	up, err := pre[0].OpenAt(ctx, types.PathFlagsSymlinkFollow, "link/..", 0, types.DescriptorFlagsRead|types.DescriptorFlagsMutateDirectory)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Drop()
	c, err := pre[0].OpenAt(ctx, 0, "c", 0, types.DescriptorFlagsRead|types.DescriptorFlagsMutateDirectory)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Drop()
	if err := up.RenameAt(ctx, "b/x", c, "x"); err != Unsupported {
		t.Fatalf("rename through a drifted path: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "b", "x")); err != nil {
		t.Fatalf("x moved: %v", err)
	}
	a, err := pre[0].OpenAt(ctx, 0, "a", 0, types.DescriptorFlagsRead|types.DescriptorFlagsMutateDirectory)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Drop()
	if err := a.RenameAt(ctx, "b/x", c, "x"); err != nil {
		t.Fatalf("rename between two directories: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c", "x")); err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenAt(ctx, 0, "x", 0, types.DescriptorFlagsRead|types.DescriptorFlagsWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Drop()
	when := types.NewTimestampTimestamp(types.Datetime{Seconds: 1_000_000_000})
	if err := f.SetTimes(ctx, types.NewTimestampNoChange(), when); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "c", "x")); fi.ModTime().Unix() != 1_000_000_000 {
		t.Fatalf("mtime %v", fi.ModTime())
	}
	os.Rename(filepath.Join(dir, "c", "x"), filepath.Join(dir, "c", "y"))
	// On Linux set-times acts on the open file (futimens), wherever its
	// name went; elsewhere it goes through the path, which leads nowhere.
	later := types.NewTimestampTimestamp(types.Datetime{Seconds: 1_100_000_000, Nanoseconds: 5})
	err = f.SetTimes(ctx, types.NewTimestampNoChange(), later)
	if goruntime.GOOS != "linux" {
		if err != Unsupported {
			t.Fatalf("set-times after a rename: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("set-times after a rename: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "c", "y")); !fi.ModTime().Equal(time.Unix(1_100_000_000, 5)) {
		t.Fatalf("mtime of the renamed file %v", fi.ModTime())
	}
}
