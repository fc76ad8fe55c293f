//go:build !wasip1

package wasifs_test

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

const guest = "./testdata/fstest"

// tree makes the directory the guest sees: tree/a.txt, tree/sub/b.txt,
// tree/sub/empty/, and link-out, a symbolic link to the file secret
// beside the directory (outside the preopen).
func tree(t *testing.T) (dir, secret string) {
	t.Helper()
	top := t.TempDir()
	dir = filepath.Join(top, "pre")
	secret = filepath.Join(top, "secret")
	for _, d := range []string{"tree/sub/empty"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{
		"tree/a.txt": "hello, files", "tree/sub/b.txt": "bee",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link-out")); err != nil {
		t.Fatal(err)
	}
	return dir, secret
}

// compilationCache compiles the guest once for the package's tests, not
// once per test: wazero takes seconds for a large guest on a loaded
// machine. No test here runs it with function listeners, which a cached
// module would keep from its first compile.
var compilationCache = wazero.NewCompilationCache()

// run runs the fstest guest with dirs preopened.
func run(t *testing.T, dirs []runtime.Dir, args ...string) string {
	t.Helper()
	return runLimits(t, runtime.Limits{}, dirs, args...)
}

// runLimits is run under limits.
func runLimits(t *testing.T, limits runtime.Limits, dirs []runtime.Dir, args ...string) string {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(compilationCache))
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, guest))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args: append([]string{"fstest"}, args...), Stdout: &stdout, Stderr: &stderr, Dirs: dirs,
	})
	if err != nil {
		t.Fatalf("guest: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestPreopens(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	got := run(t, []runtime.Dir{{Host: a, Guest: "/a"}, {Host: b, Guest: "/data", ReadOnly: true}}, "preopens")
	if want := "/a\n/data\n"; got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
}

// TestFS runs testing/fstest.TestFS inside the guest, on a read-write and
// on a read-only preopen.
func TestFS(t *testing.T) {
	dir, _ := tree(t)
	for _, ro := range []bool{false, true} {
		if got := run(t, []runtime.Dir{{Host: dir, Guest: "/d", ReadOnly: ro}}, "testfs", "/d"); got != "testfs ok\n" {
			t.Errorf("read-only %v: %q", ro, got)
		}
	}
}

func TestRead(t *testing.T) {
	dir, _ := tree(t)
	got := run(t, []runtime.Dir{{Host: dir, Guest: "/d", ReadOnly: true}}, "read", "/d")
	want := `a.txt "hello, files"
entry a.txt dir=false
entry sub dir=true
stat b.txt size=3 dir=false
missing not-exist=true
readat "ell" <nil>
read after close closed=true
`
	if got != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
	}
}

func TestWrite(t *testing.T) {
	dir, _ := tree(t)
	got := run(t, []runtime.Dir{{Host: dir, Guest: "/d"}}, "write", "/d")
	// ReadAt reads what Write wrote at once: before, it did not flush the
	// write stream first, and read nothing. Another File over the same
	// file sees what a Write returned for (before, Write returned with
	// the host still writing: the other handle saw part of it).
	want := `readat after write 20/20
rw.txt "hello, WASI!" size=12
new.txt "written by the guest, appended"
append offset 7 read 0 EOF, again 0 EOF, all "abcdeXYZ" <nil>
big.bin 1048576 bytes equal=true
other handle size true read true
exclusive exist=true
remove non-empty exist=true
removed not-exist=true
`
	if got != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
	}
	// What the guest left is on the host.
	for name, want := range map[string]string{"new.txt": "written by the guest, appended", "moved": "x"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("host %s: %q %v, want %q", name, b, err, want)
		}
	}
	for _, name := range []string{"rw.txt", "dir"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("host %s: %v, want it removed", name, err)
		}
	}
}

// TestEscape: nothing the guest names leads out of the preopen: "..",
// absolute paths and symbolic links pointing out are refused, reading and
// writing alike, and the file outside is untouched.
func TestEscape(t *testing.T) {
	dir, secret := tree(t)
	got := run(t, []runtime.Dir{{Host: dir, Guest: "/d"}}, "escape", "/d")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 11 {
		t.Fatalf("stdout:\n%s", got)
	}
	for _, l := range lines[:2] {
		if !strings.HasSuffix(l, "invalid=true") {
			t.Errorf("%s: want fs.ErrInvalid", l)
		}
	}
	for _, l := range lines[2:] {
		if !strings.Contains(l, "permission=true") || !strings.Contains(l, "not-permitted") {
			t.Errorf("%s: want not-permitted", l)
		}
	}
	if strings.Contains(got, "host secret") {
		t.Error("the guest read the file outside its preopen")
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "host secret" {
		t.Errorf("the file outside: %q %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(dir), "evil")); !os.IsNotExist(err) {
		t.Errorf("the guest made something outside its preopen: %v", err)
	}
}

// TestReadOnly: a read-only preopen reads, and refuses every change with
// read-only.
func TestReadOnly(t *testing.T) {
	dir, _ := tree(t)
	got := run(t, []runtime.Dir{{Host: dir, Guest: "/d", ReadOnly: true}}, "readonly", "/d")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 6 || lines[0] != `read "hello, files" <nil>` {
		t.Fatalf("stdout:\n%s", got)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, "permission=true") || !strings.Contains(l, "read-only") {
			t.Errorf("%s: want read-only", l)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tree/a.txt")); err != nil {
		t.Error(err)
	}
}

// TestNoLeak: a thousand rounds of opening, reading, listing and writing,
// some files closed before they were read to the end and a directory
// before it was listed to the end, under a limit of four open host files:
// a descriptor, stream or directory listing left open would exhaust it.
func TestNoLeak(t *testing.T) {
	dir := t.TempDir()
	got := runLimits(t, runtime.Limits{Files: 4}, []runtime.Dir{{Host: dir, Guest: "/d"}}, "churn", "/d", "1000")
	if got != "churned 1000\n" {
		t.Fatalf("stdout %q", got)
	}
}

// TestCloseInterruptsRead: a Close from another goroutine of the guest
// does not wait behind a Read parked on the host's read stream; it wakes
// the Read, which fails with fs.ErrClosed (the guest's closeread).
func TestCloseInterruptsRead(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), bytes.Repeat([]byte{7}, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := run(t, []runtime.Dir{{Host: dir, Guest: "/d"}}, "closeread", "/d"); got != "closeread ok\n" {
		t.Fatalf("stdout %q", got)
	}
}
