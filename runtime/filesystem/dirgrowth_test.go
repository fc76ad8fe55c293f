package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// nameOps are the calls of one interface a guest makes names with; each
// returns errQuotaRefused for a refusal for the quota.
type nameOps struct {
	mkdir, create, unlink, rmdir func(p string) error
	rename                       func(old, new string) error
}

var errQuotaRefused = errors.New("refused for the quota")

// opsOf is the calls of wasi:filesystem (p1 false) or
// wasi_snapshot_preview1 (p1 true) of the guest of f.
func opsOf(t *testing.T, f *FS, pre *Descriptor, p1 bool) nameOps {
	ctx := context.Background()
	if !p1 {
		wrap := func(err error) error {
			if errors.Is(err, types.ErrorCodeQuota) {
				return errQuotaRefused
			}
			return err
		}
		return nameOps{
			mkdir: func(p string) error { return wrap(pre.CreateDirectoryAt(ctx, p)) },
			create: func(p string) error {
				d, err := pre.OpenAt(ctx, 0, p, types.OpenFlagsCreate|types.OpenFlagsExclusive, types.DescriptorFlagsWrite)
				if err == nil {
					d.Drop()
				}
				return wrap(err)
			},
			unlink: func(p string) error { return wrap(pre.UnlinkFileAt(ctx, p)) },
			rmdir:  func(p string) error { return wrap(pre.RemoveDirectoryAt(ctx, p)) },
			rename: func(old, new string) error { return wrap(pre.RenameAt(ctx, old, pre, new)) },
		}
	}
	r := f.Preview1()[0]
	call := func(op func() experimentalsys.Errno) error {
		n := f.BeginQuotaCall()
		errno := op()
		switch {
		case errno == 0:
			return nil
		case errno == experimentalsys.EIO && f.RefusedIn(n):
			return errQuotaRefused
		}
		return errno
	}
	return nameOps{
		mkdir: func(p string) error { return call(func() experimentalsys.Errno { return r.Mkdir(p, 0o755) }) },
		create: func(p string) error {
			return call(func() experimentalsys.Errno {
				file, errno := r.OpenFile(p, experimentalsys.O_CREAT|experimentalsys.O_EXCL|experimentalsys.O_WRONLY, 0o644)
				if errno == 0 {
					file.Close()
				}
				return errno
			})
		},
		unlink: func(p string) error { return call(func() experimentalsys.Errno { return r.Unlink(p) }) },
		rmdir:  func(p string) error { return call(func() experimentalsys.Errno { return r.Rmdir(p) }) },
		rename: func(old, new string) error {
			return call(func() experimentalsys.Errno { return r.Rename(old, new) })
		},
	}
}

// diskHeld is what the files and directories beneath dir hold on disk
// (st_blocks, as dirBytes reads them), dir itself not counted.
func diskHeld(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += dirBytes(info) // its blocks, as for a directory
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// longName is the i-th of the long names the tests fill directories
// with, 200 bytes: a directory entry of some 210 bytes on ext4.
func longName(i int) string { return fmt.Sprintf("%s%06d", strings.Repeat("n", 194), i) }

// TestDirGrowthQuota: a directory keeps the blocks it grew to hold names
// after they are removed (on ext4, most file systems), so the quota
// counts what the directories a guest makes names in grow by, and gives
// it back when the directory is removed. A guest filling new
// directories with names up to its quota, through either interface,
// removing the names and starting again in another directory, or moving
// its names into one new directory after another, is refused within its
// quota: the host's disk beneath the preopen holds at most the quota and
// a block or so. Before, each round left some 100 KiB nothing counted,
// without end. Removing the emptied directories gives all back.
func TestDirGrowthQuota(t *testing.T) {
	const limit = 2 << 20
	const rounds = 60 // 6 MiB of directories, had nothing counted them
	for _, p1 := range []bool{false, true} {
		for _, how := range []string{"create", "rename"} {
			t.Run(fmt.Sprintf("preview1=%v/%s", p1, how), func(t *testing.T) {
				dir := t.TempDir()
				f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
				f.SetDiskLimit(limit)
				ops := opsOf(t, f, pre[0], p1)
				base := diskHeld(t, dir)
				if st, _ := os.Stat(dir); dirBytes(st) == 0 {
					t.Skip("the host's directories hold no blocks")
				}
				var made []string // the directories made, emptied
				var names []string
				refused := false
				if how == "rename" {
					if err := ops.mkdir("h"); err != nil {
						t.Fatal(err)
					}
					made = append(made, "h")
					for i := range limit / 2 / NameBytes {
						p := "h/" + longName(i)
						if err := ops.create(p); err != nil {
							t.Fatal(err)
						}
						names = append(names, p)
					}
				}
			rounds:
				for round := range rounds {
					d := fmt.Sprintf("d%d", round)
					if err := ops.mkdir(d); err != nil {
						if err != errQuotaRefused {
							t.Fatal(err)
						}
						refused = true
						break
					}
					made = append(made, d)
					switch how {
					case "create":
						for i := 0; ; i++ {
							p := d + "/" + longName(i)
							if err := ops.create(p); err != nil {
								if err != errQuotaRefused {
									t.Fatal(err)
								}
								if i == 0 {
									refused = true
									break rounds
								}
								break
							}
							names = append(names, p)
						}
						for _, p := range names {
							if err := ops.unlink(p); err != nil {
								t.Fatal(err)
							}
						}
						names = names[:0]
					case "rename":
						for i, p := range names {
							q := d + "/" + longName(i)
							if err := ops.rename(p, q); err != nil {
								if err != errQuotaRefused {
									t.Fatal(err)
								}
								refused = true
								break rounds
							}
							names[i] = q
						}
					}
				}
				held := diskHeld(t, dir) - base
				t.Logf("%d directories made, the disk holds %d bytes more beneath the preopen, the quota counts %d (limit %d)", len(made), held, f.DiskUsed(), limit)
				if !refused {
					t.Errorf("%d rounds ran, none refused for the quota", rounds)
				}
				if held > limit+64<<10 {
					t.Errorf("the disk holds %d bytes beneath the preopen, past the quota of %d", held, limit)
				}
				if held > f.DiskUsed()+16<<10 {
					t.Errorf("the disk holds %d bytes, the quota counts %d", held, f.DiskUsed())
				}

				// Emptied and removed, the directories give all back.
				for _, p := range names {
					if err := ops.unlink(p); err != nil {
						t.Fatal(err)
					}
				}
				for _, d := range made {
					if err := ops.rmdir(d); err != nil {
						t.Fatal(err)
					}
				}
				if used := f.DiskUsed(); used != 0 {
					t.Errorf("after removing every name and directory, the quota counts %d bytes, want 0", used)
				}
			})
		}
	}
}

// TestDirGrowthHeldOpen: a directory removed while a guest holds it open
// keeps its blocks until it is closed (ext4: st_blocks stay, its size
// and link count zero), so its growth is given back at the last close,
// not at the removal: before, a guest could fill a directory, hold it
// open, empty and remove it for a full refund, and do so again with as
// many directories as it may hold open, each keeping its blocks.
func TestDirGrowthHeldOpen(t *testing.T) {
	ctx := context.Background()
	for _, p1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("preview1=%v", p1), func(t *testing.T) {
			dir := t.TempDir()
			f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
			ops := opsOf(t, f, pre[0], p1)
			if err := ops.mkdir("d"); err != nil {
				t.Fatal(err)
			}
			const names = 1000
			for i := range names {
				if err := ops.create("d/" + longName(i)); err != nil {
					t.Fatal(err)
				}
			}
			grown := f.DiskUsed() - (names+1)*NameBytes
			if grown <= 0 {
				t.Skip("the host's directories hold no blocks")
			}
			var closeDir func()
			if p1 {
				file, errno := f.Preview1()[0].OpenFile("d", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
				if errno != 0 {
					t.Fatal(errno)
				}
				closeDir = func() { file.Close() }
			} else {
				d, err := pre[0].OpenAt(ctx, 0, "d", types.OpenFlagsDirectory, types.DescriptorFlagsRead)
				if err != nil {
					t.Fatal(err)
				}
				closeDir = d.Drop
			}
			for i := range names {
				if err := ops.unlink("d/" + longName(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := ops.rmdir("d"); err != nil {
				t.Fatal(err)
			}
			if used := f.DiskUsed(); used != grown {
				t.Errorf("removed while held open, the directory counts %d bytes, want its growth, %d", used, grown)
			}
			closeDir()
			if used := f.DiskUsed(); used != 0 {
				t.Errorf("at its close, %d bytes stay counted, want 0", used)
			}
		})
	}
}

// BenchmarkCreateName: what making a file costs with its directory's
// growth measured (after: openCreating, two status reads of the
// directory more) beside the name alone charged (before: the name
// reserved, the file made with O_EXCL, as openCreating did before): a
// file made in a directory of 1,000 names, closed and removed, the two
// in turn each op, so that the machine's slow spells weigh on both
// alike. It reports the time of the makings alone, before-ns and
// after-ns each, and their ratio after/before:
//
//	go test ./runtime/filesystem -run '^$' -bench CreateName -count 5
func BenchmarkCreateName(b *testing.B) {
	f, err := New([]Preopen{{Host: b.TempDir(), Guest: "/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	f.SetDiskLimit(1 << 62)
	root, q := f.preopens[0].root, &f.disk
	if err := root.Mkdir("d", 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		file, err := root.Create("d/" + longName(i))
		if err != nil {
			b.Fatal(err)
		}
		file.Close()
	}
	const flag = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	var spent [2]time.Duration
	var n [2]int
	for i := 0; b.Loop(); i++ {
		p := fmt.Sprintf("d/new%d", i%64)
		after := i % 2
		var file *os.File
		start := time.Now()
		if after == 0 {
			if err := q.reserve(NameBytes); err != nil {
				b.Fatal(err)
			}
			file, err = root.OpenFile(p, flag, 0o644)
		} else {
			file, _, err = q.openCreating(root, p, flag, 0o644)
		}
		spent[after] += time.Since(start)
		n[after]++
		if err != nil {
			b.Fatal(err)
		}
		file.Close()
		if err := root.Remove(p); err != nil {
			b.Fatal(err)
		}
	}
	if n[0] > 0 && n[1] > 0 {
		before, after := float64(spent[0])/float64(n[0]), float64(spent[1])/float64(n[1])
		b.ReportMetric(before, "before-ns")
		b.ReportMetric(after, "after-ns")
		b.ReportMetric(after/before, "after/before")
	}
}
