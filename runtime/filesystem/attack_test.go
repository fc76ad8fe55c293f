//go:build unix

package filesystem

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// outside is what lies beside a preopen: a file, and a directory whose
// entries the guest must not learn of.
type outside struct {
	dir, secret string
	info        os.FileInfo
}

func newOutside(t *testing.T, tmp string) outside {
	t.Helper()
	o := outside{dir: filepath.Join(tmp, "outdir"), secret: filepath.Join(tmp, "secret")}
	if err := os.WriteFile(o.secret, []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1_000_000, 0)
	os.Chtimes(o.secret, old, old)
	if err := os.Mkdir(o.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	o.info, _ = os.Stat(o.secret)
	return o
}

// check fails the test if anything outside changed.
func (o outside) check(t *testing.T) {
	t.Helper()
	info, err := os.Stat(o.secret)
	if err != nil {
		t.Fatalf("the secret beside the preopen: %v", err)
	}
	st, st0 := info.Sys().(*syscall.Stat_t), o.info.Sys().(*syscall.Stat_t)
	if b, _ := os.ReadFile(o.secret); string(b) != "SECRET" || !info.ModTime().Equal(o.info.ModTime()) ||
		info.Mode() != o.info.Mode() || st.Nlink != st0.Nlink {
		t.Errorf("the secret beside the preopen changed: %q, mtime %v, mode %v, %d links", b, info.ModTime(), info.Mode(), st.Nlink)
	}
	if entries, _ := os.ReadDir(o.dir); len(entries) != 0 {
		t.Errorf("the directory beside the preopen holds %d entries", len(entries))
	}
}

// TestAttackSymlinks: symbolic links leading out of a preopen (relative,
// absolute, chains, loops, and those the guest makes itself) lead
// nowhere, for every wasi:filesystem function that takes a path and for
// wasi_snapshot_preview1's: each either acts on the link itself, inside
// the preopen, or fails with not-permitted (EPERM) or loop, and nothing
// beside the preopen is read, changed or learned of (a path leading out
// fails alike whether or not its target exists).
func TestAttackSymlinks(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "pre")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	o := newOutside(t, tmp)
	for name, target := range map[string]string{
		"rel": "../secret", "abs": o.secret, "absdir": o.dir, "reldir": "../outdir",
		"chain1": "chain2", "chain2": "sub/chain3", "sub/chain3": "../../secret",
		"loop1": "loop2", "loop2": "loop1", "missing": "../nothing-here",
		"deep": strings.Repeat("sub/../", 100) + "../secret",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	_, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
	d := pre[0]
	follow := types.PathFlagsSymlinkFollow
	rw := types.DescriptorFlagsRead | types.DescriptorFlagsWrite
	when := types.NewTimestampTimestamp(types.Datetime{Seconds: 2_000_000})

	// The guest makes links out of its own.
	if err := d.SymlinkAt(ctx, "../secret", "mine"); err != nil {
		t.Fatalf("symlink-at ../secret: %v", err)
	}
	if err := d.SymlinkAt(ctx, "../../outdir/x", "sub/mine"); err != nil {
		t.Fatalf("symlink-at ../../outdir/x: %v", err)
	}
	if err := d.SymlinkAt(ctx, o.secret, "mineabs"); err != NotPermitted {
		t.Errorf("symlink-at to an absolute path: %v, want not-permitted", err)
	}
	if l, err := d.ReadlinkAt(ctx, "mine"); err != nil || l != "../secret" {
		t.Errorf("readlink-at mine: %q %v", l, err)
	}

	outs := []string{"rel", "abs", "absdir/x", "reldir/x", "chain1", "mine", "sub/mine", "missing", "deep",
		"../secret", "sub/../../secret", "../pre/../secret", "/" + o.secret, "absdir", "reldir"}
	for _, p := range outs {
		wantOut := func(what string, err error) {
			t.Helper()
			if err != NotPermitted {
				t.Errorf("%s %q: %v, want not-permitted", what, p, err)
			}
		}
		if fd, err := d.OpenAt(ctx, follow, p, 0, types.DescriptorFlagsRead); err == nil {
			fd.Drop()
			t.Errorf("open-at %q succeeded", p)
		} else {
			wantOut("open-at", err)
		}
		if fd, err := d.OpenAt(ctx, follow, p, types.OpenFlagsCreate|types.OpenFlagsTruncate, rw); err == nil {
			fd.Drop()
			t.Errorf("open-at %q creating succeeded", p)
		}
		_, err := d.StatAt(ctx, follow, p)
		wantOut("stat-at", err)
		_, err = d.MetadataHashAt(ctx, follow, p)
		wantOut("metadata-hash-at", err)
		if err := d.SetTimesAt(ctx, follow, p, when, when); err == nil {
			t.Errorf("set-times-at %q succeeded", p)
		}
		if err := d.CreateDirectoryAt(ctx, p+"/new"); err == nil {
			t.Errorf("create-directory-at %q/new succeeded", p)
		}
		if err := d.SymlinkAt(ctx, "x", p+"/new"); err == nil {
			t.Errorf("symlink-at %q/new succeeded", p)
		}
		if err := d.LinkAt(ctx, 0, "sub", d, p+"/new"); err == nil {
			t.Errorf("link-at to %q/new succeeded", p)
		}
		if err := d.LinkAt(ctx, follow, p, d, "hard"); err == nil {
			if fd, err := d.OpenAt(ctx, 0, "hard", 0, types.DescriptorFlagsRead); err == nil {
				fd.Drop()
				t.Errorf("link-at following %q made a readable file", p)
			}
			d.UnlinkFileAt(ctx, "hard")
		}
		if err := d.RenameAt(ctx, "sub", d, p+"/new"); err == nil {
			t.Errorf("rename-at to %q/new succeeded", p)
		}
		if err := d.RenameAt(ctx, p+"/x", d, "got"); err == nil {
			t.Errorf("rename-at from %q/x succeeded", p)
		}
		if err := d.UnlinkFileAt(ctx, p+"/x"); err == nil {
			t.Errorf("unlink-file-at %q/x succeeded", p)
		}
		if err := d.RemoveDirectoryAt(ctx, p+"/."); err == nil {
			t.Errorf("remove-directory-at %q/. succeeded", p)
		}
	}
	// Loops end in loop or not-permitted, not in a hang.
	for _, p := range []string{"loop1", "loop1/x"} {
		if _, err := d.StatAt(ctx, follow, p); err != Loop && err != NotPermitted {
			t.Errorf("stat-at %q: %v, want loop", p, err)
		}
	}
	// Without symlink-follow a final link is the link: open-at says loop.
	if _, err := d.OpenAt(ctx, 0, "rel", 0, types.DescriptorFlagsRead); err != Loop {
		t.Errorf("open-at rel without symlink-follow: %v, want loop", err)
	}
	if st, err := d.StatAt(ctx, 0, "rel"); err != nil || st.Type != types.DescriptorTypeSymbolicLink {
		t.Errorf("stat-at rel without symlink-follow: %v %v", st.Type, err)
	}
	// A hard link of a link out is a link; renamed or removed it is a
	// link still, and the target stays.
	if err := d.LinkAt(ctx, 0, "rel", d, "sub/hardlink"); err != nil {
		t.Errorf("link-at of a link: %v", err)
	}
	if err := d.RenameAt(ctx, "sub/hardlink", d, "sub/renamed"); err != nil {
		t.Errorf("rename-at of a link: %v", err)
	}
	if fd, err := d.OpenAt(ctx, follow, "sub/renamed", 0, types.DescriptorFlagsRead); err == nil {
		fd.Drop()
		t.Error("a renamed link out opened")
	}
	for _, p := range []string{"sub/renamed", "rel", "abs", "mine", "chain1"} {
		if err := d.UnlinkFileAt(ctx, p); err != nil {
			t.Errorf("unlink-file-at %q: %v", p, err)
		}
	}
	o.check(t)

	// wasi_snapshot_preview1 through the same preopen.
	f, _ := newFS(t, Preopen{Host: dir, Guest: "/"})
	p1 := f.Preview1()[0]
	for _, p := range []string{"absdir/x", "reldir/x", "chain2", "sub/mine", "missing", "deep", "../secret", "sub/../../secret"} {
		if file, e := p1.OpenFile(p, experimentalsys.O_RDONLY, 0); e == 0 {
			file.Close()
			t.Errorf("preview1 open %q succeeded", p)
		} else if e != experimentalsys.EPERM {
			t.Errorf("preview1 open %q: %v, want EPERM", p, e)
		}
		if file, e := p1.OpenFile(p, experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_TRUNC, 0o600); e == 0 {
			file.Close()
			t.Errorf("preview1 open %q creating succeeded", p)
		}
		if _, e := p1.Stat(p); e != experimentalsys.EPERM {
			t.Errorf("preview1 stat %q: %v, want EPERM", p, e)
		}
		if e := p1.Utimens(p, 0, 0); e == 0 {
			t.Errorf("preview1 utimens %q succeeded", p)
		}
		if e := p1.Mkdir(p+"/new", 0o755); e == 0 {
			t.Errorf("preview1 mkdir %q/new succeeded", p)
		}
		if e := p1.Rename("sub", p+"/new"); e == 0 {
			t.Errorf("preview1 rename to %q/new succeeded", p)
		}
		if e := p1.Link("sub/../sub", p+"/new"); e == 0 {
			t.Errorf("preview1 link to %q/new succeeded", p)
		}
		if e := p1.Symlink("x", p+"/new"); e == 0 {
			t.Errorf("preview1 symlink %q/new succeeded", p)
		}
		if e := p1.Unlink(p + "/x"); e == 0 {
			t.Errorf("preview1 unlink %q/x succeeded", p)
		}
		if e := p1.Chmod(p, 0o777); e == 0 {
			t.Errorf("preview1 chmod %q succeeded", p)
		}
	}
	if e := p1.Symlink(o.secret, "p1abs"); e != experimentalsys.EPERM {
		t.Errorf("preview1 symlink to an absolute path: %v", e)
	}
	if _, e := p1.Stat("loop1"); e != experimentalsys.ELOOP && e != experimentalsys.EPERM {
		t.Errorf("preview1 stat of a loop: %v", e)
	}
	o.check(t)
}

// TestAttackPaths: odd paths (empty, absolute, "..", NUL bytes, long
// components, long paths, many "..") fail cleanly for both interfaces and
// never reach beside the preopen; the preopen's root cannot be removed,
// renamed or renamed over.
func TestAttackPaths(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "pre")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644)
	o := newOutside(t, tmp)
	f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
	d := pre[0]
	p1 := f.Preview1()[0]
	long := strings.Repeat("a", 300)
	for _, c := range []struct {
		path string
		want ErrorCode
	}{
		{"", NoEntry},
		{"/", NotPermitted},
		{"/etc/passwd", NotPermitted},
		{"..", NotPermitted},
		{"../secret", NotPermitted},
		{"sub/../..", NotPermitted},
		{"file\x00/../../secret", Invalid},
		{"sub\x00", Invalid},
		{long, types.ErrorCodeNameTooLong},
		{strings.Repeat("sub/", 1023) + "xyz", NoEntry}, // MaxPath bytes: 1,023 components walked
		{strings.Repeat("sub/", 1023) + "wxyz", types.ErrorCodeNameTooLong},
		{strings.Repeat("sub/", 5000) + "x", types.ErrorCodeNameTooLong},
		{strings.Repeat("sub/../", 500) + "file", types.ErrorCodeNameTooLong}, // os.Root's bound on restarts
		{strings.Repeat("sub/../", 20000) + "file", types.ErrorCodeNameTooLong},
		{strings.Repeat("../", 1000) + "secret", NotPermitted},
		{strings.Repeat("../", 20000) + "secret", types.ErrorCodeNameTooLong},
	} {
		start := time.Now()
		_, err := d.StatAt(ctx, types.PathFlagsSymlinkFollow, c.path)
		if err != c.want {
			t.Errorf("stat-at %.40q (%d bytes): %v, want %v", c.path, len(c.path), err, c.want)
		}
		if fd, err := d.OpenAt(ctx, 0, c.path, types.OpenFlagsCreate, types.DescriptorFlagsRead|types.DescriptorFlagsWrite); err == nil {
			fd.Drop()
			t.Errorf("open-at %.40q creating succeeded", c.path)
		}
		if _, e := p1.Stat(c.path); e == 0 && c.path != "" && c.path != "/" {
			t.Errorf("preview1 stat %.40q succeeded", c.path)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%.40q (%d bytes) took %v", c.path, len(c.path), time.Since(start))
		}
	}
	// The preopen's root stays.
	for what, err := range map[string]error{
		"remove-directory-at .":      d.RemoveDirectoryAt(ctx, "."),
		"remove-directory-at sub/..": d.RemoveDirectoryAt(ctx, "sub/.."),
		"unlink-file-at .":           d.UnlinkFileAt(ctx, "."),
		"rename-at . to sub/x":       d.RenameAt(ctx, ".", d, "sub/x"),
		"rename-at sub to .":         d.RenameAt(ctx, "sub", d, "."),
		"rename-at file to .":        d.RenameAt(ctx, "file", d, "."),
		"rename-at sub to ..":        d.RenameAt(ctx, "sub", d, ".."),
	} {
		if err == nil {
			t.Errorf("%s succeeded", what)
		}
	}
	for what, e := range map[string]experimentalsys.Errno{
		"rmdir .":           p1.Rmdir("."),
		"rmdir /":           p1.Rmdir("/"),
		"unlink .":          p1.Unlink("."),
		"rename . to sub/x": p1.Rename(".", "sub/x"),
		"rename sub to .":   p1.Rename("sub", "."),
		"rename sub to /":   p1.Rename("sub", "/"),
		"rename file to ..": p1.Rename("file", ".."),
	} {
		if e == 0 {
			t.Errorf("preview1 %s succeeded", what)
		}
	}
	// A directory descriptor is a root of its own: ".." from it, or a
	// path through it joined with another descriptor's, stays beneath it.
	sub, err := d.OpenAt(ctx, 0, "sub", 0, types.DescriptorFlagsRead|types.DescriptorFlagsMutateDirectory)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Drop()
	if _, err := sub.StatAt(ctx, 0, ".."); err != NotPermitted {
		t.Errorf("stat-at .. of sub: %v, want not-permitted", err)
	}
	if _, err := sub.StatAt(ctx, 0, "../file"); err != NotPermitted {
		t.Errorf("stat-at ../file of sub: %v, want not-permitted", err)
	}
	if err := sub.RenameAt(ctx, "../file", d, "moved"); err != NotPermitted {
		t.Errorf("rename-at ../file of sub: %v, want not-permitted", err)
	}
	if err := d.RenameAt(ctx, "file", sub, "../../moved"); err != NotPermitted {
		t.Errorf("rename-at to ../../moved of sub: %v, want not-permitted", err)
	}
	if err := sub.LinkAt(ctx, 0, "../../secret", d, "hard"); err != NotPermitted {
		t.Errorf("link-at ../../secret of sub: %v, want not-permitted", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub")); err != nil {
		t.Errorf("sub: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "file")); string(b) != "x" {
		t.Errorf("file: %q", b)
	}
	o.check(t)
}

// TestAttackRace: one goroutine of the guest keeps swapping "d" between a
// directory of the preopen and a symbolic link out of it, with rename-at
// and symlink-at of its own descriptor, while another opens, creates,
// stats, changes the times of and removes files beneath "d", for
// wasi:filesystem and wasi_snapshot_preview1: os.Root resolves each path
// in one step, so nothing beside the preopen is ever reached.
func TestAttackRace(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "pre")
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	o := newOutside(t, tmp)
	os.WriteFile(filepath.Join(o.dir, "target"), []byte("OUT"), 0o644)
	f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
	d := pre[0]
	p1 := f.Preview1()[0]
	if err := d.SymlinkAt(ctx, "../outdir", "link"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	swapped := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				swapped <- n
				return
			default:
			}
			d.RenameAt(ctx, "d", d, "real")
			d.RenameAt(ctx, "link", d, "d")
			d.RenameAt(ctx, "d", d, "link")
			d.RenameAt(ctx, "real", d, "d")
			n++
		}
	}()
	rw := types.DescriptorFlagsRead | types.DescriptorFlagsWrite
	when := types.NewTimestampTimestamp(types.Datetime{Seconds: 3_000_000})
	deadline := time.Now().Add(500 * time.Millisecond)
	opened := 0
	for time.Now().Before(deadline) {
		if fd, err := d.OpenAt(ctx, types.PathFlagsSymlinkFollow, "d/target", types.OpenFlagsCreate, rw); err == nil {
			opened++
			r, _ := fd.Read(ctx, 16, 0)
			if string(r.F0) == "OUT" {
				t.Error("read the file beside the preopen")
			}
			fd.Write(ctx, []byte("IN"), 0)
			fd.Drop()
		}
		d.SetTimesAt(ctx, types.PathFlagsSymlinkFollow, "d/target", when, when)
		d.CreateDirectoryAt(ctx, "d/made")
		d.RemoveDirectoryAt(ctx, "d/made")
		d.UnlinkFileAt(ctx, "d/target")
		if file, e := p1.OpenFile("d/target", experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o600); e == 0 {
			buf := make([]byte, 16)
			if n, _ := file.Read(buf); string(buf[:n]) == "OUT" {
				t.Error("preview1 read the file beside the preopen")
			}
			file.Write([]byte("IN"))
			file.Close()
		}
		p1.Utimens("d/target", 3e15, 3e15)
		p1.Unlink("d/target")
		p1.Mkdir("d/made", 0o755)
		p1.Rmdir("d/made")
	}
	close(stop)
	if n := <-swapped; n == 0 || opened == 0 {
		t.Fatalf("%d swaps, %d opens beneath d", n, opened)
	}
	if b, err := os.ReadFile(filepath.Join(o.dir, "target")); err != nil || string(b) != "OUT" {
		t.Errorf("the file beside the preopen: %q %v", b, err)
	}
	if info, _ := os.Stat(filepath.Join(o.dir, "target")); info != nil && info.ModTime().Unix() == 3_000_000 {
		t.Error("the times of the file beside the preopen changed")
	}
	if entries, _ := os.ReadDir(o.dir); len(entries) != 1 {
		t.Errorf("the directory beside the preopen holds %d entries", len(entries))
	}
	os.Remove(filepath.Join(o.dir, "target"))
	o.check(t)
}

// TestAttackSizes: lengths, offsets and times the guest chooses at their
// extremes end in an answer, at once and without the host allocating
// what they claim: a read of 4 GiB returns at most maxRead, offsets past
// 2^63 are invalid, a write or size near 2^63 is refused by the disk quota
// (or by the system) with nothing written, advise takes any range, times
// near 2^62 s are set or refused.
func TestAttackSizes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), []byte("hello"), 0o644)
	f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
	d := pre[0]
	fd, err := d.OpenAt(ctx, 0, "file", 0, types.DescriptorFlagsRead|types.DescriptorFlagsWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Drop()
	if r, err := fd.Read(ctx, 1<<32, 0); err != nil || string(r.F0) != "hello" || !r.F1 {
		t.Errorf("read of 4 GiB: %q %v %v", r.F0, r.F1, err)
	}
	if r, err := fd.Read(ctx, 1<<64-1, 1<<63-1); (err != nil && err != Invalid) || len(r.F0) != 0 {
		t.Errorf("read at 2^63-1: %d bytes, %v", len(r.F0), err)
	}
	for _, off := range []uint64{1 << 63, 1<<64 - 1} {
		if _, err := fd.Read(ctx, 1, off); err != Invalid {
			t.Errorf("read at %d: %v, want invalid", off, err)
		}
		if _, err := fd.Write(ctx, []byte("x"), off); err != Invalid {
			t.Errorf("write at %d: %v, want invalid", off, err)
		}
		if _, err := fd.ReadViaStream(ctx, off); err != Invalid {
			t.Errorf("read-via-stream at %d: %v, want invalid", off, err)
		}
		if _, err := fd.WriteViaStream(ctx, off); err != Invalid {
			t.Errorf("write-via-stream at %d: %v, want invalid", off, err)
		}
	}
	for _, off := range []uint64{1<<63 - 1, 1<<63 - 2, 1 << 62} {
		if n, err := fd.Write(ctx, []byte("xy"), off); err == nil || n != 0 {
			t.Errorf("write at %d: %d %v", off, n, err)
		}
	}
	for _, size := range []uint64{1 << 62, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		if err := fd.SetSize(ctx, size); err == nil {
			t.Errorf("set-size %d succeeded", size)
		}
	}
	if info, _ := os.Stat(filepath.Join(dir, "file")); info.Size() != 5 {
		t.Errorf("the file's size is %d", info.Size())
	}
	if err := fd.Advise(ctx, 1<<64-1, 1<<64-1, types.AdviceWillNeed); err != nil {
		t.Errorf("advise: %v", err)
	}
	for _, ts := range []types.Datetime{{Seconds: 1 << 62}, {Seconds: 1<<62 + 1}, {Seconds: 1<<64 - 1}, {Nanoseconds: 1e9}, {Nanoseconds: 1<<32 - 1}} {
		nt := types.NewTimestampTimestamp(ts)
		fd.SetTimes(ctx, nt, nt)
		d.SetTimesAt(ctx, 0, "file", nt, nt)
	}

	p1 := f.Preview1()[0]
	file, e := p1.OpenFile("file", experimentalsys.O_RDWR, 0)
	if e != 0 {
		t.Fatal(e)
	}
	defer file.Close()
	for _, off := range []int64{-1, -1 << 63, 1<<63 - 1, 1<<63 - 2} {
		if n, e := file.Pwrite([]byte("xy"), off); e == 0 || n != 0 {
			t.Errorf("preview1 pwrite at %d: %d %v", off, n, e)
		}
		if n, e := file.Pread(make([]byte, 2), off); n != 0 || (off < 0 && e == 0) {
			t.Errorf("preview1 pread at %d: %d %v", off, n, e)
		}
	}
	for _, size := range []int64{-1, 1 << 62, 1<<63 - 1} {
		if e := file.Truncate(size); e == 0 {
			t.Errorf("preview1 truncate %d succeeded", size)
		}
	}
	if _, e := file.Seek(1<<63-2, 0); e == 0 {
		if n, e := file.Write([]byte("xyz")); e == 0 || n != 0 {
			t.Errorf("preview1 write at 2^63-2: %d %v", n, e)
		}
	}
	for _, ns := range []int64{-1 << 63, 1<<63 - 1, -1} {
		file.(*rootFile).Utimens(ns, ns)
		p1.Utimens("file", ns, ns)
	}
	if info, _ := os.Stat(filepath.Join(dir, "file")); info.Size() != 5 {
		t.Errorf("the file's size is %d", info.Size())
	}
}
