package filesystem

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// TestWriteEnd: a write's end saturates at the largest offset rather than
// wrapping to a negative size, which the quota would take for no growth.
func TestWriteEnd(t *testing.T) {
	for _, tt := range []struct {
		off  int64
		n    int
		size int64
		want int64
	}{
		{0, 10, 5, 10},
		{-1, 10, 5, 15},
		{math.MaxInt64 - 10, 100, 0, math.MaxInt64},
		{-1, 100, math.MaxInt64 - 10, math.MaxInt64},
	} {
		if got := writeEnd(tt.off, tt.n)(tt.size); got != tt.want {
			t.Errorf("writeEnd(%d, %d)(%d) = %d, want %d", tt.off, tt.n, tt.size, got, tt.want)
		}
	}
}

// TestQuotaAtLargestOffset: a write whose end passes the largest offset is
// refused for the quota, before the host is asked.
func TestQuotaAtLargestOffset(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	q := &diskQuota{limit: 1 << 20, maxFiles: 1}
	ran := false
	err = q.sizeChange(f, writeEnd(math.MaxInt64-10, 100), func(int64) error { ran = true; return nil })
	if !errors.Is(err, ErrDiskQuota) || ran {
		t.Errorf("a write ending past the largest offset: %v (ran %v), want refused for the quota", err, ran)
	}
}

// recordOf returns what the registry remembers of the host file at p.
func recordOf(t *testing.T, p string) *fileRecord {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	id, _, ok := idOf(info)
	if !ok {
		t.Skip("the host gives no inode numbers")
	}
	files.mu.Lock()
	defer files.mu.Unlock()
	return files.m[id]
}

// TestRegistryForgets: the registry of files the process's guests hold
// open or were charged for keeps nothing of a file once it is freed, nor
// of a guest's charges once its FS is closed, so that it does not grow
// with every file a long-running process's guests ever wrote; and a file
// whose inode number was remembered under an earlier file's (freed where
// the process could not see) starts with no charges.
func TestRegistryForgets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
	write := func(name string, n int) {
		t.Helper()
		d, err := pre[0].OpenAt(ctx, 0, name, types.OpenFlagsCreate, types.DescriptorFlagsWrite)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Drop()
		if _, err := d.Write(ctx, make([]byte, n), 0); err != nil {
			t.Fatal(err)
		}
	}
	write("a", 1000)
	rec := recordOf(t, filepath.Join(dir, "a"))
	if rec == nil || rec.open != 0 || rec.charged[&f.disk] != 1000 {
		t.Fatalf("after writing 1000 bytes and closing: record %+v, want 1000 bytes charged, not open", rec)
	}
	info, _ := os.Stat(filepath.Join(dir, "a"))
	id, _, _ := idOf(info)
	if err := pre[0].UnlinkFileAt(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	files.mu.Lock()
	_, kept := files.m[id]
	files.mu.Unlock()
	if kept || f.DiskUsed() != 0 {
		t.Errorf("after removing it: record kept %v, %d bytes used; want none", kept, f.DiskUsed())
	}

	write("b", 1000)
	f.Close()
	if rec := recordOf(t, filepath.Join(dir, "b")); rec != nil {
		t.Errorf("after the FS closed: record %+v kept", rec)
	}

	// A stale record under a new file's inode number: the open that
	// created the file drops its charges.
	g, _ := newFS(t, Preopen{Host: dir, Guest: "/"})
	info, _ = os.Stat(filepath.Join(dir, "b"))
	id, _, _ = idOf(info)
	files.mu.Lock()
	files.m[id] = &fileRecord{charged: map[*diskQuota]int64{&g.disk: 1 << 20}}
	g.disk.files = map[fileID]struct{}{id: {}}
	files.mu.Unlock()
	opened(info, true)
	files.mu.Lock()
	rec = files.m[id]
	_, inQuota := g.disk.files[id]
	files.mu.Unlock()
	if rec == nil || rec.open != 1 || len(rec.charged) != 0 || inQuota {
		t.Errorf("a created file: record %+v (in the quota's files %v), want open once, no charges", rec, inQuota)
	}
	closing(id, nil)
	if rec := recordOf(t, filepath.Join(dir, "b")); rec != nil {
		t.Errorf("after its close: record %+v kept", rec)
	}
}

// BenchmarkGrowingWrite: what remembering a file's growth adds to a write
// that grows it. write is a wasi:filesystem write of 4 KiB at the end of
// a file (the file is set back to empty every 4,096 writes); charge is
// the registry's part of it alone (its lock and chargeLocked), which a
// write that does not grow the file skips. Compare their ns/op.
func BenchmarkGrowingWrite(b *testing.B) {
	ctx := context.Background()
	f, err := New([]Preopen{{Host: b.TempDir(), Guest: "/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	pre := f.Directories()[0].F0.(*Descriptor)
	fd, err := pre.OpenAt(ctx, 0, "f", types.OpenFlagsCreate, types.DescriptorFlagsRead|types.DescriptorFlagsWrite)
	if err != nil {
		b.Fatal(err)
	}
	d := fd.(*Descriptor)
	defer d.Drop()
	buf := make([]byte, 4096)
	b.Run("write", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if i%4096 == 0 {
				d.SetSize(ctx, 0)
			}
			if _, err := d.Write(ctx, buf, types.Filesize(i%4096*4096)); err != nil {
				b.Fatal(err)
			}
		}
	})
	id := d.file.id
	b.Run("charge", func(b *testing.B) {
		for b.Loop() {
			f.disk.mu.Lock()
			files.mu.Lock()
			chargeLocked(&f.disk, id, 1)
			files.mu.Unlock()
			f.disk.mu.Unlock()
		}
	})
}

// BenchmarkAppendWrite: what an append-mode stream's write costs beside
// a write at an offset, both growing the file by 64 bytes under the quota
// (the stream writers alone, without the stream's goroutine; the file is
// set back to empty every 65,536 writes), small so that the system calls
// around the write weigh; stat is one status read of the file alone. In
// the order A B A B A B in one process; compare their ns/op:
//
//	go test ./runtime/filesystem -run '^$' -bench AppendWrite -count 3
func BenchmarkAppendWrite(b *testing.B) {
	f, err := New([]Preopen{{Host: b.TempDir(), Guest: "/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	f.SetDiskLimit(1 << 62) // the file is emptied behind the quota's back
	file, _, err := f.disk.openCounted(f.preopens[0].root, "f", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	buf := make([]byte, 64)
	b.Run("stat", func(b *testing.B) {
		for b.Loop() {
			file.Stat()
		}
	})
	for _, name := range []string{"at", "append", "at", "append", "at", "append"} {
		b.Run(name, func(b *testing.B) {
			w := &offsetWriter{f: file, disk: &f.disk, append: name == "append"}
			for i := 0; b.Loop(); i++ {
				if i%65536 == 0 {
					file.Truncate(0)
					w.off = 0
				}
				if _, err := w.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCreateRaceChargesOnce: guests creating the same names at once (an
// open with create, without exclusive, through wasi:filesystem and
// wasi_snapshot_preview1) are charged one name each between them, the
// guest whose open made it: before, each that found the name missing
// before the other's open made it was charged for it.
func TestCreateRaceChargesOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const guests, names = 4, 300
	var fss [guests]*FS
	var pres [guests]*Descriptor
	for i := range fss {
		f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
		fss[i], pres[i] = f, pre[0]
	}
	var wg sync.WaitGroup
	for i := range guests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range names {
				name := fmt.Sprintf("n%d", n)
				if i%2 == 0 {
					d, err := pres[i].OpenAt(ctx, 0, name, types.OpenFlagsCreate, types.DescriptorFlagsWrite)
					if err != nil {
						t.Error(err)
						return
					}
					d.(*Descriptor).Drop()
					continue
				}
				file, errno := fss[i].Preview1()[0].OpenFile(name, experimentalsys.O_CREAT|experimentalsys.O_WRONLY, 0o644)
				if errno != 0 {
					t.Error(errno)
					return
				}
				file.Close()
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, f := range fss {
		total += f.DiskUsed()
	}
	if total != names*NameBytes {
		t.Errorf("%d names made, %d bytes charged in all; want %d (one name each)", names, total, names*NameBytes)
	}

	// A final symbolic link to nothing: the create follows it, makes its
	// target and is charged for it, once.
	if err := os.Symlink("target", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	before := fss[0].DiskUsed()
	d, err := pres[0].OpenAt(ctx, types.PathFlagsSymlinkFollow, "link", types.OpenFlagsCreate, types.DescriptorFlagsWrite)
	if err != nil {
		t.Fatalf("create through a symbolic link to nothing: %v", err)
	}
	d.(*Descriptor).Drop()
	if _, err := os.Stat(filepath.Join(dir, "target")); err != nil {
		t.Errorf("the link's target: %v", err)
	}
	if got := fss[0].DiskUsed() - before; got != NameBytes {
		t.Errorf("create through a symbolic link to nothing charged %d bytes, want %d", got, NameBytes)
	}
}

// TestDiskFileLimit: a quota remembers the growth of at most its file
// limit of files (SetDiskFileLimit): a write growing one more is refused
// with quota, nothing of it written, through wasi:filesystem and
// wasi_snapshot_preview1, however many the guest tries, so that the
// registry's entries for the guest stay at the limit; removing a file it
// grew makes room for another.
func TestDiskFileLimit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
	f.SetDiskFileLimit(8)
	grow := func(name string) error {
		d, err := pre[0].OpenAt(ctx, 0, name, types.OpenFlagsCreate, types.DescriptorFlagsWrite)
		if err != nil {
			return err
		}
		defer d.Drop()
		_, err = d.(*Descriptor).Write(ctx, []byte("x"), 0)
		return err
	}
	for i := range 8 {
		if err := grow(fmt.Sprintf("f%d", i)); err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
	}
	for i := 8; i < 200; i++ {
		if err := grow(fmt.Sprintf("f%d", i)); !errors.Is(err, types.ErrorCodeQuota) {
			t.Fatalf("file %d past the limit of 8: %v, want quota", i, err)
		}
	}
	file, errno := f.Preview1()[0].OpenFile("p1", experimentalsys.O_CREAT|experimentalsys.O_WRONLY, 0o644)
	if errno != 0 {
		t.Fatal(errno)
	}
	call := f.BeginQuotaCall()
	if _, errno := file.Write([]byte("x")); errno != experimentalsys.EIO || !f.RefusedIn(call) {
		t.Errorf("a wasi_snapshot_preview1 write past the limit: errno %v, refused for the quota %v; want EIO, refused", errno, f.RefusedIn(call))
	}
	file.Close()
	if info, err := os.Stat(filepath.Join(dir, "f100")); err != nil || info.Size() != 0 {
		t.Errorf("a refused file: %v, want it empty", info.Size())
	}
	files.mu.Lock()
	entries := 0
	for _, rec := range files.m {
		if _, ok := rec.charged[&f.disk]; ok {
			entries++
		}
	}
	files.mu.Unlock()
	if n := f.DiskFiles(); n != 8 || entries != 8 {
		t.Errorf("the quota remembers %d files, the registry holds %d entries charged to it; want 8", n, entries)
	}
	if err := pre[0].UnlinkFileAt(ctx, "f0"); err != nil {
		t.Fatal(err)
	}
	if err := grow("f100"); err != nil {
		t.Errorf("after removing one: %v", err)
	}
}
