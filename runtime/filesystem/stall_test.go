//go:build unix

package filesystem

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// TestSlowCallStallsNoOtherGuest: a guest whose file system call waits in
// the kernel (here an open of a named pipe for writing, without the
// non-blocking flag every guest open adds, which waits for a reader as an
// open on a slow or network mount waits for it; one open that creates,
// one that does not) does not hold up another guest's file changes in
// the same process: creating, writing, growing, making a directory and a
// link, renaming, unlinking and removing, through wasi:filesystem and
// wasi_snapshot_preview1, all complete while it waits. Before, the
// quota's registry lock, shared by every guest of the process, was held
// across the open, and the other guest's first open waited for it.
func TestSlowCallStallsNoOtherGuest(t *testing.T) {
	ctx := context.Background()
	slowDir := t.TempDir()
	pipe := filepath.Join(slowDir, "pipe")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	slow, _ := newFS(t, Preopen{Host: slowDir, Guest: "/"})
	other, pre := newFS(t, Preopen{Host: t.TempDir(), Guest: "/"})

	for _, flag := range []int{os.O_WRONLY, os.O_WRONLY | os.O_CREATE} {
		opened := make(chan error, 1)
		go func() {
			f, _, err := slow.disk.openCounted(slow.preopens[0].root, "pipe", flag, 0o644)
			if err == nil {
				f.Close()
			}
			opened <- err
		}()
		// Until a reader comes, the open waits in the kernel.
		select {
		case err := <-opened:
			t.Fatalf("the open of a named pipe with no reader returned at once: %v", err)
		case <-time.After(50 * time.Millisecond):
		}

		done := make(chan error, 1)
		go func() { done <- otherGuestWork(ctx, other, pre[0]) }()
		stalled := false
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("flag %#x: the other guest's work: %v", flag, err)
			}
		case <-time.After(10 * time.Second):
			stalled = true
			t.Errorf("flag %#x: the other guest's file changes still wait after 10 s while one guest's open waits", flag)
		}

		// A reader lets the open complete.
		r, err := os.OpenFile(pipe, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-opened:
			if err != nil {
				t.Errorf("the open, once a reader came: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the open still waits after a reader came")
		}
		r.Close()
		if stalled {
			<-done
		}
	}
}

// otherGuestWork changes files beneath d (a preopen of f) through both
// interfaces.
func otherGuestWork(ctx context.Context, f *FS, d *Descriptor) error {
	fd, err := d.OpenAt(ctx, 0, "a", types.OpenFlagsCreate|types.OpenFlagsTruncate, types.DescriptorFlagsWrite)
	if err != nil {
		return err
	}
	if _, err := fd.(*Descriptor).Write(ctx, make([]byte, 1000), 0); err != nil {
		return err
	}
	if err := fd.(*Descriptor).SetSize(ctx, 5000); err != nil {
		return err
	}
	fd.(*Descriptor).Drop()
	for _, step := range []func() error{
		func() error { return d.CreateDirectoryAt(ctx, "dir") },
		func() error { return d.LinkAt(ctx, 0, "a", d, "b") },
		func() error { return d.RenameAt(ctx, "b", d, "c") },
		func() error { return d.UnlinkFileAt(ctx, "c") },
		func() error { return d.UnlinkFileAt(ctx, "a") },
		func() error { return d.RemoveDirectoryAt(ctx, "dir") },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	mount := f.Preview1()[0]
	file, errno := mount.OpenFile("p1", experimentalsys.O_CREAT|experimentalsys.O_RDWR, 0o644)
	if errno != 0 {
		return errno
	}
	if _, errno := file.Write(make([]byte, 1000)); errno != 0 {
		return errno
	}
	file.Close()
	if errno := mount.Unlink("p1"); errno != 0 {
		return errno
	}
	if used := f.DiskUsed(); used != 0 {
		return fmt.Errorf("%d bytes counted after removing all it made", used)
	}
	return nil
}

// TestOrphanAdopted: a file one guest opened by its name just before
// another removed its last link, and counted open only after that removal
// freed it (its writer got its bytes back), is charged to the guest that
// holds it until its close frees it: the disk never holds bytes no quota
// counts. The interleaving is forced here step by step (openCounted takes
// these steps when a file was freed between its open and its count).
func TestOrphanAdopted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writer, wpre := newFS(t, Preopen{Host: dir, Guest: "/"})
	holder, _ := newFS(t, Preopen{Host: dir, Guest: "/"})
	fd, err := wpre[0].OpenAt(ctx, 0, "f", types.OpenFlagsCreate, types.DescriptorFlagsWrite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fd.(*Descriptor).Write(ctx, make([]byte, 10000), 0); err != nil {
		t.Fatal(err)
	}
	fd.(*Descriptor).Drop()

	held, err := holder.preopens[0].root.Open("f") // opened, not yet counted
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := wpre[0].UnlinkFileAt(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if used := writer.DiskUsed(); used != 0 {
		t.Fatalf("the writer counts %d bytes after removing its file, want 0", used)
	}
	info, err := held.Stat()
	if err != nil {
		t.Fatal(err)
	}
	id := opened(info, false)
	if err := holder.disk.adoptOrphan(id, held); err != nil {
		t.Fatal(err)
	}
	if used := holder.DiskUsed(); used != 10000 {
		t.Errorf("the holder of the removed file counts %d bytes, want its 10000", used)
	}
	closing(id, held)
	if used := holder.DiskUsed(); used != 0 {
		t.Errorf("after its close the holder counts %d bytes, want 0", used)
	}
}
