package filesystem

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// TestMaxPath: every function of either interface taking a path, or a
// symbolic link's target, refuses one of MaxPath+1 bytes with
// name-too-long (ENAMETOOLONG) and changes nothing; one of MaxPath bytes
// is looked at (here: not found).
func TestMaxPath(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644)
	f, pre := newFS(t, Preopen{Host: dir, Guest: "/d"})
	d := pre[0]
	p1 := f.Preview1()[0]
	long := strings.Repeat("a/", (MaxPath+1)/2) + strings.Repeat("b", (MaxPath+1)%2)
	if len(long) != MaxPath+1 {
		t.Fatalf("%d bytes", len(long))
	}
	atMax := long[:MaxPath]
	ts := types.NewTimestampNow()
	for what, err := range map[string]error{
		"stat-at": func() error { _, err := d.StatAt(ctx, 0, long); return err }(),
		"open-at": func() error {
			_, err := d.OpenAt(ctx, 0, long, types.OpenFlagsCreate, types.DescriptorFlagsWrite)
			return err
		}(),
		"create-directory":  d.CreateDirectoryAt(ctx, long),
		"remove-directory":  d.RemoveDirectoryAt(ctx, long),
		"unlink-file-at":    d.UnlinkFileAt(ctx, long),
		"rename-at from":    d.RenameAt(ctx, long, d, "x"),
		"rename-at to":      d.RenameAt(ctx, "file", d, long),
		"link-at from":      d.LinkAt(ctx, types.PathFlagsSymlinkFollow, long, d, "x"),
		"link-at to":        d.LinkAt(ctx, 0, "file", d, long),
		"symlink-at link":   d.SymlinkAt(ctx, "file", long),
		"symlink-at target": d.SymlinkAt(ctx, long, "x"),
		"readlink-at":       func() error { _, err := d.ReadlinkAt(ctx, long); return err }(),
		"set-times-at":      d.SetTimesAt(ctx, 0, long, ts, ts),
		"metadata-hash-at":  func() error { _, err := d.MetadataHashAt(ctx, 0, long); return err }(),
	} {
		if err != NameTooLong {
			t.Errorf("%s of %d bytes: %v, want name-too-long", what, len(long), err)
		}
	}
	if _, err := d.StatAt(ctx, 0, atMax); err != NoEntry {
		t.Errorf("stat-at of MaxPath bytes: %v, want no-entry", err)
	}
	for what, e := range map[string]experimentalsys.Errno{
		"open": func() experimentalsys.Errno {
			_, e := p1.OpenFile(long, experimentalsys.O_CREAT|experimentalsys.O_RDWR, 0o600)
			return e
		}(),
		"stat":           func() experimentalsys.Errno { _, e := p1.Stat(long); return e }(),
		"lstat":          func() experimentalsys.Errno { _, e := p1.Lstat(long); return e }(),
		"mkdir":          p1.Mkdir(long, 0o755),
		"chmod":          p1.Chmod(long, 0o755),
		"rename from":    p1.Rename(long, "x"),
		"rename to":      p1.Rename("file", long),
		"rmdir":          p1.Rmdir(long),
		"unlink":         p1.Unlink(long),
		"link from":      p1.Link(long, "x"),
		"link to":        p1.Link("file", long),
		"symlink link":   p1.Symlink("file", long),
		"symlink target": p1.Symlink(long, "x"),
		"readlink":       func() experimentalsys.Errno { _, e := p1.Readlink(long); return e }(),
		"utimens":        p1.Utimens(long, experimentalsys.UTIME_OMIT, 0),
	} {
		if e != experimentalsys.ENAMETOOLONG {
			t.Errorf("preview1 %s of %d bytes: %v, want ENAMETOOLONG", what, len(long), e)
		}
	}
	if _, e := p1.Stat(atMax); e != experimentalsys.ENOENT {
		t.Errorf("preview1 stat of MaxPath bytes: %v, want ENOENT", e)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the preopen holds %d entries, want the one file", len(entries))
	}
}
