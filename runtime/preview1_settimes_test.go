//go:build linux

package runtime_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime"
)

// TestPreview1SetTimesNoFollowGuest: a C guest sets times with
// utimensat(AT_SYMLINK_NOFOLLOW), path_filestat_set_times without the
// symlink-follow flag: a directory, a named pipe without a reader, a file
// without write permission, a symbolic link inside and one leading out of
// the preopen have their own times set, the links' targets keep theirs;
// beneath a read-only preopen the call says EROFS (69) and nothing
// changes. Before, wazero opened each path for writing: the directory
// said EISDIR (31), the pipe EIO (29, for ENXIO), the read-only preopen
// ENOSYS (52), and the links were followed (the one inside set its
// target's times, the one out said EPERM, 63).
func TestPreview1SetTimesNoFollowGuest(t *testing.T) {
	tmp := t.TempDir()
	dir, ro := filepath.Join(tmp, "rw"), filepath.Join(tmp, "ro")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(os.Mkdir(ro, 0o755))
	must(os.WriteFile(filepath.Join(dir, "locked"), nil, 0o444))
	must(os.WriteFile(filepath.Join(dir, "target"), nil, 0o644))
	must(os.WriteFile(filepath.Join(ro, "r"), nil, 0o644))
	must(os.WriteFile(filepath.Join(tmp, "secret"), nil, 0o644))
	must(syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644))
	must(os.Symlink("target", filepath.Join(dir, "in")))
	must(os.Symlink("../secret", filepath.Join(dir, "out")))
	old := time.Unix(1_000_000_000, 0)
	for _, p := range []string{filepath.Join(dir, "target"), filepath.Join(tmp, "secret"), filepath.Join(ro, "r")} {
		must(os.Chtimes(p, old, old))
	}

	wasm := cguest.Build(t, cguest.Spec{
		Sources: []string{"testdata/p1times/p1times.c"},
		CFlags:  []string{"-Wall", "-Werror"},
		Core:    true,
	})
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	must(err)
	compiled, err := r.CompileModule(ctx, wasm)
	must(err)
	var stdout, stderr bytes.Buffer
	paths := []string{"/rw/sub", "/rw/pipe", "/rw/locked", "/rw/in", "/rw/out", "/ro/r"}
	inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   append([]string{"p1times"}, paths...),
		Stdout: &stdout, Stderr: &stderr,
		Dirs: []runtime.Dir{{Host: dir, Guest: "/rw"}, {Host: ro, Guest: "/ro", ReadOnly: true}},
	})
	if err != nil {
		t.Fatalf("guest: %v\nstdout:\n%s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	inst.Close(ctx)
	want := "/rw/sub 0\n/rw/pipe 0\n/rw/locked 0\n/rw/in 0\n/rw/out 0\n/ro/r 69\n"
	if got := stdout.String(); got != want {
		t.Errorf("guest output differs:\n%s", lineDiff(got, want))
	}
	atim, mtim := time.Unix(1_500_000_000, 123_000_000), time.Unix(1_600_000_000, 456_000_000)
	for _, p := range []string{"sub", "pipe", "locked", "in", "out"} {
		info, err := os.Lstat(filepath.Join(dir, p))
		must(err)
		st := info.Sys().(*syscall.Stat_t)
		if got := time.Unix(st.Atim.Unix()); !info.ModTime().Equal(mtim) || !got.Equal(atim) {
			t.Errorf("%s: accessed %v, modified %v; want %v, %v", p, got, info.ModTime(), atim, mtim)
		}
	}
	for _, p := range []string{filepath.Join(dir, "target"), filepath.Join(tmp, "secret"), filepath.Join(ro, "r")} {
		if info, err := os.Stat(p); err != nil || !info.ModTime().Equal(old) {
			t.Errorf("%s: %v, modified %v; want it unchanged", p, err, info.ModTime())
		}
	}
}
