package runtime_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
)

// TestGuestFilesystem runs a guest through wasi:filesystem against a
// read-write and a read-only preopen, with symbolic links leading out of
// the read-write one, and checks every answer and what is left on the host.
func TestGuestFilesystem(t *testing.T) {
	tmp, rw, ro := fileTree(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	must(err)
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/files"))
	must(err)
	var stdout, stderr bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   []string{"files"},
		Stdout: &stdout, Stderr: &stderr,
		Dirs: []runtime.Dir{{Host: rw, Guest: "/rw"}, {Host: ro, Guest: "/ro", ReadOnly: true}},
	})
	if err != nil {
		t.Fatalf("guest: %v\nstdout:\n%s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	want := `preopen /rw
preopen /ro
read hello.txt: ok "hello" eof=true ok
hash: same file true, via link true, other file false
stat hello.txt: ok regular-file 5
stat-at sub/inner.txt: ok regular-file 6
stat-at out nofollow: ok symbolic-link
readlink out: ok "../secret"
open ../secret: not-permitted
open /secret: not-permitted
open sub/../../secret: not-permitted
open out: not-permitted
open abs: not-permitted
open sub/up/secret: not-permitted
open .: ok
stat-at out follow: not-permitted
open in follow: ok "hello"
open in nofollow: loop
open sub: ok
open sub/..: not-permitted
open sub/../hello.txt: not-permitted
open sub/inner.txt: ok
open-at on a file: not-directory
mkdir newdir: ok
mkdir newdir again: exist
create newdir/f.txt: ok
write-via-stream: ok <nil>
append-via-stream: ok <nil>
write: ok 2
read-via-stream: ok "Yreamed+more", then closed
create exclusive again: exist
write on a read-only descriptor: bad-descriptor
write-via-stream on a read-only descriptor: bad-descriptor
read-directory /rw: ok abs hello.txt in newdir out sub
rename f.txt g.txt: ok
rename into sub: ok
rename out of /rw: not-permitted
rename to /ro: read-only
unlink sub/g.txt: ok
unlink a directory: is-directory
rmdir a non-empty directory: not-empty
rmdir a file: not-directory
rmdir newdir: ok
symlink to an absolute path: not-permitted
symlink out2 -> ../secret: ok
open out2: not-permitted
unlink out2: ok
read ro.txt: ok "read only"
open ro.txt for writing: read-only
create in /ro: read-only
mkdir in /ro: read-only
unlink in /ro: read-only
symlink in /ro: read-only
`
	if got := stdout.String(); got != want {
		t.Errorf("guest output differs:\n%s", lineDiff(got, want))
	}
	checkOutside(t, tmp, ro)
}

// TestGuestPreview1Confined: the same preopens through wazero's
// wasi_snapshot_preview1 keep a Go wasip1 guest beneath them too, where
// wazero's DirFS alone follows symbolic links out.
func TestGuestPreview1Confined(t *testing.T) {
	tmp, rw, ro := fileTree(t)
	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/p1files"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   []string{"p1files"},
		Stdout: &stdout, Stderr: &stderr,
		Dirs: []runtime.Dir{{Host: rw, Guest: "/rw"}, {Host: ro, Guest: "/ro", ReadOnly: true}},
	})
	if err != nil {
		t.Fatalf("guest: %v\nstdout:\n%s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	want := `read hello.txt: ok "hello"
read in: ok "hello"
read /rw/out: permission ""
read /rw/abs: permission ""
read /rw/sub/up/secret: permission ""
stat out: permission
lstat out: ok true
write through out: permission
create through sub/up: permission
mkdir through sub/up: permission
rename through sub/up: permission
create new.txt: ok
rename new.txt: ok
list sub: ok inner.txt new.txt up
remove sub/new.txt: ok
symlink mine: ok
read mine: permission ""
symlink absolute: permission
link through sub/up: permission
link out: ok
read hard2: permission ""
rename mine into sub: ok
read sub/mine: not-exist ""
read ro.txt: ok "read only"
write ro.txt: true
mkdir in /ro: true
`
	if got := stdout.String(); got != want {
		t.Errorf("guest output differs:\n%s", lineDiff(got, want))
	}
	checkOutside(t, tmp, ro)
	// No file of the preopen is the secret under another name: the hard
	// link the guest made of the link out is a link.
	secret, err := os.Stat(filepath.Join(tmp, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(rw, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if info, err := os.Lstat(p); err == nil && os.SameFile(info, secret) {
			t.Errorf("%s is the secret", p)
		}
		return nil
	})
	if info, err := os.Lstat(filepath.Join(rw, "hard2")); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("hard2: %v, %v; want a symbolic link", info, err)
	}
}

// lineDiff shows the lines of got and want side by side from the first
// difference on.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		mark := "  "
		if gl != wl {
			mark = "! "
		}
		b.WriteString(mark + "got:  " + gl + "\n" + mark + "want: " + wl + "\n")
	}
	return b.String()
}

// fileTree lays out tmp/secret, the read-write preopen tmp/rw (hello.txt,
// sub/inner.txt, and symbolic links: out to ../secret, abs to the absolute
// path of secret, in to hello.txt, sub/up to ../..) and the read-only
// preopen tmp/ro (ro.txt).
func fileTree(t *testing.T) (tmp, rw, ro string) {
	t.Helper()
	tmp = t.TempDir()
	rw, ro = filepath.Join(tmp, "rw"), filepath.Join(tmp, "ro")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(rw, "sub"), 0o755))
	must(os.MkdirAll(ro, 0o755))
	must(os.WriteFile(filepath.Join(tmp, "secret"), []byte("SECRET"), 0o644))
	must(os.WriteFile(filepath.Join(rw, "hello.txt"), []byte("hello"), 0o644))
	must(os.WriteFile(filepath.Join(rw, "sub", "inner.txt"), []byte("inner!"), 0o644))
	must(os.WriteFile(filepath.Join(ro, "ro.txt"), []byte("read only"), 0o644))
	must(os.Symlink("../secret", filepath.Join(rw, "out")))
	must(os.Symlink(filepath.Join(tmp, "secret"), filepath.Join(rw, "abs")))
	must(os.Symlink("hello.txt", filepath.Join(rw, "in")))
	must(os.Symlink("../..", filepath.Join(rw, "sub", "up")))
	return tmp, rw, ro
}

// checkOutside checks that nothing outside the read-write preopen changed.
func checkOutside(t *testing.T, tmp, ro string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(tmp, "secret")); err != nil || string(b) != "SECRET" {
		t.Errorf("secret: %q %v", b, err)
	}
	entries, _ := os.ReadDir(tmp)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "ro rw secret" {
		t.Errorf("the guest changed the parent of its preopens: %v", names)
	}
	entries, _ = os.ReadDir(ro)
	if len(entries) != 1 {
		t.Errorf("the guest changed the read-only preopen: %v", entries)
	}
}

// TestGuestPreview1Race: while the host keeps swapping /rw/d, a symbolic
// link inside the preopen, between a directory inside it and one outside
// it (as another guest over the same host directory could), a Go wasip1
// guest loops reading, creating, removing and changing files through
// /rw/d. Every path resolves in one os.Root step, so nothing outside is
// ever read, created, removed or changed.
func TestGuestPreview1Race(t *testing.T) {
	tmp := t.TempDir()
	rw, outside := filepath.Join(tmp, "rw"), filepath.Join(tmp, "outside")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(rw, "real"), 0o755))
	must(os.MkdirAll(outside, 0o755))
	must(os.WriteFile(filepath.Join(rw, "real", "f"), []byte("inside"), 0o644))
	must(os.WriteFile(filepath.Join(outside, "f"), []byte("OUTSIDE"), 0o644))
	must(os.WriteFile(filepath.Join(outside, "victim"), []byte("victim"), 0o644))
	must(os.Symlink("real", filepath.Join(rw, "d")))

	stop := make(chan struct{})
	swapped := make(chan int)
	go func() {
		n := 0
		defer func() { swapped <- n }()
		next := filepath.Join(rw, ".next")
		for {
			for _, target := range []string{"../outside", "real"} {
				select {
				case <-stop:
					return
				default:
				}
				os.Remove(next)
				if os.Symlink(target, next) == nil && os.Rename(next, filepath.Join(rw, "d")) == nil {
					n++
				}
			}
		}
	}()

	ctx := context.Background()
	r := newWazero(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	must(err)
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/p1race"))
	must(err)
	var stdout, stderr bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args:   []string{"p1race", "3000"},
		Stdout: &stdout, Stderr: &stderr,
		Dirs: []runtime.Dir{{Host: rw, Guest: "/rw"}},
	})
	close(stop)
	n := <-swapped
	if err != nil {
		t.Fatalf("guest: %v\nstdout:\n%s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("%d swaps; guest: %s", n, out)
	if !strings.Contains(out, "inside true outside 0 created true") {
		t.Errorf("guest output: %s", out)
	}
	entries, _ := os.ReadDir(outside)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "f victim" {
		t.Errorf("the guest changed the directory outside its preopen: %v", names)
	}
	if info, err := os.Stat(filepath.Join(outside, "f")); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("outside f: %v %v", info, err)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "f")); err != nil || string(b) != "OUTSIDE" {
		t.Errorf("outside f: %q %v", b, err)
	}
}

// TestDirsOneGuestPath: two preopens at one guest path (however written:
// "/d", "d", "/d/") are refused, naming both host directories. Before,
// wasi_snapshot_preview1 served the second alone (wazero keeps one mount
// per path) and wasi:filesystem both, so a guest found a different
// directory, or a writable one for a read-only one, by the interface its
// libc uses.
func TestDirsOneGuestPath(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, []byte("\x00asm\x01\x00\x00\x00"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	for _, guests := range [][2]string{{"/d", "/d"}, {"/d", "d/"}, {"/", "."}} {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Dirs: []runtime.Dir{{Host: a, Guest: guests[0], ReadOnly: true}, {Host: b, Guest: guests[1]}}})
		if err == nil || !strings.Contains(err.Error(), a+" and "+b+" are both preopened at guest path") {
			t.Errorf("preopens at %q and %q: %v, want an error naming both", guests[0], guests[1], err)
		}
	}
	inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Dirs: []runtime.Dir{{Host: a, Guest: "/a"}, {Host: a, Guest: "/b"}}})
	if err != nil {
		t.Fatalf("one directory at two guest paths: %v", err)
	}
	inst.Close(ctx)
}
