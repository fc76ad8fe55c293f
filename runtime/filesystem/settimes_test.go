//go:build linux

package filesystem

import (
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// TestPreview1SetTimesNoFollow: within SetTimesNoFollow, the preview1
// mount's Utimens sets the times of the path's last component itself: a
// file without write permission, a directory, a named pipe without a
// reader, a symbolic link's own (one leading out of the preopen
// included, whose target keeps its times), through a directory reached
// by a link inside; it opens no counted file and nothing outside changes.
// A read-only preopen refuses with EROFS and nothing changes.
func TestPreview1SetTimesNoFollow(t *testing.T) {
	tmp, dir, ro, old, atim, mtim := setTimesTree(t)
	must := mustFunc(t)
	f, _ := newFS(t, Preopen{Host: dir, Guest: "/"}, Preopen{Host: ro, Guest: "/ro", ReadOnly: true})
	p1 := f.Preview1()

	for _, p := range []string{"sub/f", "sub", ".", "pipe", "in", "out", "sublink/f", "sublink"} {
		var errno experimentalsys.Errno
		f.SetTimesNoFollow(func() { errno = p1[0].Utimens(p, atim.UnixNano(), mtim.UnixNano()) })
		if errno != 0 {
			t.Errorf("%s: %v", p, errno)
			continue
		}
		info, err := os.Lstat(filepath.Join(dir, p))
		must(err)
		if !info.ModTime().Equal(mtim) {
			t.Errorf("%s: modified %v, want %v", p, info.ModTime(), mtim)
		}
		if got := time.Unix(info.Sys().(*syscall.Stat_t).Atim.Unix()); !got.Equal(atim) {
			t.Errorf("%s: accessed %v, want %v", p, got, atim)
		}
	}
	// UTIME_OMIT keeps one.
	var errno experimentalsys.Errno
	f.SetTimesNoFollow(func() { errno = p1[0].Utimens("in", experimentalsys.UTIME_OMIT, old.UnixNano()) })
	if info, err := os.Lstat(filepath.Join(dir, "in")); errno != 0 || err != nil || !info.ModTime().Equal(old) ||
		!time.Unix(info.Sys().(*syscall.Stat_t).Atim.Unix()).Equal(atim) {
		t.Errorf("in, atime omitted: %v, %v; modified %v", errno, err, info.ModTime())
	}
	for _, p := range []string{"target", "../secret"} {
		if info, err := os.Stat(filepath.Join(dir, p)); err != nil || !info.ModTime().Equal(old) {
			t.Errorf("%s, named by a link: %v, modified %v; want it unchanged", p, err, info.ModTime())
		}
	}
	if f.Open() != 0 {
		t.Errorf("%d files counted open after the calls", f.Open())
	}

	// Paths leading out are refused as everywhere else.
	for _, p := range []string{"../secret", "out/x", "nothing"} {
		f.SetTimesNoFollow(func() { errno = p1[0].Utimens(p, atim.UnixNano(), mtim.UnixNano()) })
		if errno == 0 {
			t.Errorf("%s: set", p)
		}
	}
	// Omitting both times still names a path that must lead somewhere
	// (utimensat does not look then).
	f.SetTimesNoFollow(func() { errno = p1[0].Utimens("nothing", experimentalsys.UTIME_OMIT, experimentalsys.UTIME_OMIT) })
	if errno != experimentalsys.ENOENT {
		t.Errorf("nothing, both omitted: %v, want ENOENT", errno)
	}

	// A read-only preopen: EROFS, nothing changes.
	f.SetTimesNoFollow(func() { errno = p1[1].Utimens("r", atim.UnixNano(), mtim.UnixNano()) })
	if errno != experimentalsys.EROFS {
		t.Errorf("read-only r: %v, want EROFS", errno)
	}
	if info, err := os.Stat(filepath.Join(ro, "r")); err != nil || !info.ModTime().Equal(old) {
		t.Errorf("read-only r: %v, modified %v; want it unchanged", err, info.ModTime())
	}
	if info, err := os.Stat(filepath.Join(tmp, "secret")); err != nil || !info.ModTime().Equal(old) {
		t.Errorf("secret: %v, modified %v; want it unchanged", err, info.ModTime())
	}

	// Outside SetTimesNoFollow, a final link is followed (inside only).
	must(os.Chtimes(filepath.Join(dir, "target"), old, old))
	if errno := p1[0].Utimens("in", atim.UnixNano(), mtim.UnixNano()); errno != 0 {
		t.Fatalf("in, followed: %v", errno)
	}
	if info, err := os.Stat(filepath.Join(dir, "target")); err != nil || !info.ModTime().Equal(mtim) {
		t.Errorf("target through in: %v, modified %v, want %v", err, info.ModTime(), mtim)
	}
	if errno := p1[0].Utimens("out", atim.UnixNano(), mtim.UnixNano()); errno != experimentalsys.EPERM {
		t.Errorf("out, followed: %v, want EPERM", errno)
	}
}

// TestSetTimesAtNoFollow: wasi:filesystem's set-times-at without
// symlink-follow sets the times of the path's last component itself: a
// symbolic link's own (one leading out of the preopen included, whose
// target keeps its times), a directory, a named pipe, a file without
// write permission; no-change keeps a time; a read-only preopen refuses
// with read-only. Before, a link said unsupported.
func TestSetTimesAtNoFollow(t *testing.T) {
	ctx := context.Background()
	tmp, dir, ro, old, atim, mtim := setTimesTree(t)
	must := mustFunc(t)
	_, pre := newFS(t, Preopen{Host: dir, Guest: "/"}, Preopen{Host: ro, Guest: "/ro", ReadOnly: true})
	ts := func(t time.Time) types.NewTimestamp {
		return types.NewTimestampTimestamp(types.Datetime{Seconds: uint64(t.Unix()), Nanoseconds: uint32(t.Nanosecond())})
	}
	for _, p := range []string{"in", "out", "sub", "sub/f", "pipe"} {
		if err := pre[0].SetTimesAt(ctx, 0, p, ts(atim), ts(mtim)); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		info, err := os.Lstat(filepath.Join(dir, p))
		must(err)
		if got := time.Unix(info.Sys().(*syscall.Stat_t).Atim.Unix()); !info.ModTime().Equal(mtim) || !got.Equal(atim) {
			t.Errorf("%s: accessed %v, modified %v; want %v, %v", p, got, info.ModTime(), atim, mtim)
		}
	}
	if err := pre[0].SetTimesAt(ctx, 0, "in", types.NewTimestampNoChange(), ts(old)); err != nil {
		t.Errorf("in, access time unchanged: %v", err)
	} else if info, err := os.Lstat(filepath.Join(dir, "in")); err != nil || !info.ModTime().Equal(old) ||
		!time.Unix(info.Sys().(*syscall.Stat_t).Atim.Unix()).Equal(atim) {
		t.Errorf("in, access time unchanged: %v, modified %v", err, info.ModTime())
	}
	for _, p := range []string{filepath.Join(dir, "target"), filepath.Join(tmp, "secret")} {
		if info, err := os.Stat(p); err != nil || !info.ModTime().Equal(old) {
			t.Errorf("%s, named by a link: %v, modified %v; want it unchanged", p, err, info.ModTime())
		}
	}
	for _, p := range []string{"../secret", "out/x", "missing"} {
		if err := pre[0].SetTimesAt(ctx, 0, p, ts(atim), ts(mtim)); err == nil {
			t.Errorf("%s: set", p)
		}
	}
	// Changing neither time still names a path that must lead somewhere
	// (utimensat does not look when both are omitted).
	if err := pre[0].SetTimesAt(ctx, 0, "missing", types.NewTimestampNoChange(), types.NewTimestampNoChange()); err != NoEntry {
		t.Errorf("missing, nothing changed: %v, want no-entry", err)
	}
	if err := pre[1].SetTimesAt(ctx, 0, "l", ts(atim), ts(mtim)); err != ReadOnly {
		t.Errorf("read-only l: %v, want read-only", err)
	}
}

// setTimesTree makes the tree the set-times tests act on, beneath tmp:
// the preopen dir ("pre": sub/f without write permission, target, a
// named pipe, links in to target, out to tmp/secret and sublink to sub)
// and the read-only preopen ro (a file r, a link l). target, secret and
// r have times old; atim and mtim are the times the tests set.
func setTimesTree(t *testing.T) (tmp, dir, ro string, old, atim, mtim time.Time) {
	t.Helper()
	tmp = t.TempDir()
	dir, ro = filepath.Join(tmp, "pre"), filepath.Join(tmp, "ro")
	must := mustFunc(t)
	must(os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(os.Mkdir(ro, 0o755))
	must(os.WriteFile(filepath.Join(dir, "sub", "f"), nil, 0o444))
	must(os.WriteFile(filepath.Join(dir, "target"), nil, 0o644))
	must(os.WriteFile(filepath.Join(ro, "r"), nil, 0o644))
	must(os.WriteFile(filepath.Join(tmp, "secret"), nil, 0o644))
	must(syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644))
	must(os.Symlink("target", filepath.Join(dir, "in")))
	must(os.Symlink("../secret", filepath.Join(dir, "out")))
	must(os.Symlink("sub", filepath.Join(dir, "sublink")))
	must(os.Symlink("in", filepath.Join(ro, "l")))
	old = time.Unix(1_000_000_000, 0)
	for _, p := range []string{filepath.Join(dir, "target"), filepath.Join(tmp, "secret"), filepath.Join(ro, "r")} {
		must(os.Chtimes(p, old, old))
	}
	return tmp, dir, ro, old, time.Unix(1_500_000_000, 123_000_000), time.Unix(1_600_000_000, 456_000_000)
}

// mustFunc is a check that fails t at once on an error.
func mustFunc(t *testing.T) func(error) {
	return func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestPreview1FileTimesPrecise: fd_filestat_set_times (the open file's
// Utimens) keeps nanoseconds on Linux, and UTIME_OMIT keeps a time; a
// file renamed since is still the one set. Before, futimes kept
// microseconds.
func TestPreview1FileTimesPrecise(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("nanoseconds through futimens on Linux only; elsewhere futimes keeps microseconds")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := newFS(t, Preopen{Host: dir, Guest: "/"})
	file, errno := f.Preview1()[0].OpenFile("f", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer file.Close()
	if err := os.Rename(filepath.Join(dir, "f"), filepath.Join(dir, "g")); err != nil {
		t.Fatal(err)
	}
	atim, mtim := time.Unix(1_500_000_000, 123_456_789), time.Unix(1_600_000_000, 987_654_321)
	if errno := file.Utimens(atim.UnixNano(), mtim.UnixNano()); errno != 0 {
		t.Fatal(errno)
	}
	if errno := file.Utimens(experimentalsys.UTIME_OMIT, experimentalsys.UTIME_OMIT); errno != 0 {
		t.Fatal(errno)
	}
	info, err := os.Stat(filepath.Join(dir, "g"))
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(info.Sys().(*syscall.Stat_t).Atim.Unix()); !info.ModTime().Equal(mtim) || !got.Equal(atim) {
		t.Errorf("accessed %v, modified %v; want %v, %v", got, info.ModTime(), atim, mtim)
	}
}
