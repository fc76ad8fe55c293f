//go:build unix

package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/cachefiles"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime/component"
)

// helloCore is testdata/components/hello.c as a core module (wasip1).
func helloCore(t testing.TB) []byte {
	return cguest.Build(t, cguest.Spec{Sources: []string{"testdata/components/hello.c"}, Core: true})
}

// helloComponentBytes is helloComponent's bytes.
func helloComponentBytes(t testing.TB) []byte {
	return cguest.Build(t, cguest.Spec{Sources: []string{"testdata/components/hello.c"}, Adapter: cguest.Command})
}

// runCached runs hello (a core module, or a component) as the wasitls
// command does, under the stop flag, in a process of its own as far as the
// cache can tell (a new CompilationCache over dir, a new wazero runtime),
// and returns what the cache did.
func runCached(t *testing.T, dir string, wasm []byte) CompilationCacheStats {
	t.Helper()
	st, _ := runCachedRewrites(t, dir, wasm)
	return st
}

// runCachedRewrites is runCached, also returning what the cache did with
// the rewrites.
func runCachedRewrites(t *testing.T, dir string, wasm []byte) (CompilationCacheStats, RewriteStats) {
	t.Helper()
	ctx := context.Background()
	cache, err := OpenCompilationCache(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close(ctx)
	r := cache.NewRuntime(ctx, NewFastRuntimeConfig())
	defer r.Close(ctx)
	rt, err := New(ctx, r, Config{StopFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	mc := ModuleConfig{Args: []string{"hello", "cached"}, Env: []string{"GREETING=hi"}, Stdout: &out}
	if err := CheckBinary(wasm); err == nil {
		compiled, err := CompileModule(ctx, r, wasm)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := rt.Instantiate(ctx, compiled, mc)
		if err != nil {
			t.Fatal(err)
		}
		inst.Close(ctx)
	} else {
		c, err := component.Parse(wasm)
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.RunComponent(ctx, c, mc); err != nil {
			t.Fatal(err)
		}
	}
	if want := "arg 0: hello\narg 1: cached\nGREETING=hi\n"; out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
	if err := cache.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if staging, _ := filepath.Glob(filepath.Join(dir, "staging-*")); len(staging) != 0 {
		t.Errorf("Close left %v", staging)
	}
	return cache.Stats(), cache.RewriteStats()
}

// TestCompilationCache runs a core module and a component twice over one
// cache directory: the first run compiles each core module and stores
// it, the second compiles none (wazero adds an entry only when it
// compiled) and leaves the entries as they were. The rewrite before
// wazero (the stop flag's) is so deterministic: the keys are over its
// output.
func TestCompilationCache(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wasm    func(testing.TB) []byte
		modules int64
	}{
		{"core", helloCore, 1},
		// The main module and the adapter: the indirect-call shim, the
		// fixup module and what the loader makes are under minCached.
		{"component", helloComponentBytes, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "made", "cache")
			wasm := tc.wasm(t)
			st := runCached(t, dir, wasm)
			if want := (CompilationCacheStats{Stored: tc.modules}); st != want {
				t.Fatalf("first run: %+v, want %+v", st, want)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("the cache directory was made with mode %v, want 0700", fi.Mode().Perm())
			}
			before := cachefiles.Entries(t, dir)
			if int64(len(before)) != tc.modules {
				t.Fatalf("%d entries after the first run, want %d: %v", len(before), tc.modules, before)
			}
			st = runCached(t, dir, wasm)
			if want := (CompilationCacheStats{Loaded: tc.modules}); st != want {
				t.Fatalf("second run: %+v, want %+v", st, want)
			}
			cachefiles.CheckUnchanged(t, before, cachefiles.Entries(t, dir))
		})
	}
}

// TestCompilationCacheCorrupt damages every entry in each way a disk, a
// crash or a hand can: the next run refuses each (the seal does not
// verify, or the file is not the user's alone), compiles again, runs the
// guest right and stores good entries, which the run after loads.
func TestCompilationCacheCorrupt(t *testing.T) {
	wasm := helloComponentBytes(t)
	const modules = 2 // see TestCompilationCache
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, b []byte, all map[string]os.FileInfo)
	}{
		{"truncated", func(t *testing.T, p string, b []byte, _ map[string]os.FileInfo) { write(t, p, b[:len(b)/2]) }},
		{"empty", func(t *testing.T, p string, _ []byte, _ map[string]os.FileInfo) { write(t, p, nil) }},
		{"code byte", func(t *testing.T, p string, b []byte, _ map[string]os.FileInfo) { b[len(b)/2] ^= 0x40; write(t, p, b) }},
		{"offset", func(t *testing.T, p string, b []byte, _ map[string]os.FileInfo) {
			// wazero's entry: "WAZEVO", the version's length and the
			// version, the count of functions, then their offsets in
			// the native code, outside wazero's CRC: the first made
			// the second's.
			w := len(entryMagic) + 64 + 8
			first := w + 6 + 1 + int(b[w+6]) + 4
			copy(b[first:first+8], b[first+8:first+16])
			write(t, p, b)
		}},
		{"seal", func(t *testing.T, p string, b []byte, _ map[string]os.FileInfo) { b[len(b)-1] ^= 1; write(t, p, b) }},
		{"swapped", func(t *testing.T, p string, _ []byte, all map[string]os.FileInfo) {
			// Another module's entry, whole and sealed, under this
			// one's name.
			for q := range all {
				if q != p {
					b, err := os.ReadFile(q + ".orig")
					if err != nil {
						b, err = os.ReadFile(q)
					}
					if err != nil {
						t.Fatal(err)
					}
					write(t, p, b)
					return
				}
			}
		}},
		{"writable by others", func(t *testing.T, p string, _ []byte, _ map[string]os.FileInfo) {
			if err := os.Chmod(p, 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{"a pipe", func(t *testing.T, p string, _ []byte, _ map[string]os.FileInfo) {
			// Opened, it would wait for a writer.
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"not wazero's", func(t *testing.T, p string, b []byte, _ map[string]os.FileInfo) {
			// Sealed, but wazero cannot read it (its CRC): the
			// compilation is made again without it.
			head := len(entryMagic) + 64 + 8
			payload := bytes.Clone(b[head : len(b)-32])
			payload[len(payload)/2] ^= 0x40
			var key [32]byte
			copy(key[:], b[len(entryMagic):])
			write(t, p, sealEntry(key, b[len(entryMagic)+32:head-8], payload))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			runCached(t, dir, wasm)
			all := cachefiles.Entries(t, dir)
			for p := range all {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p+".orig", b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for p := range all {
				b, _ := os.ReadFile(p)
				tc.damage(t, p, b, all)
			}
			for p := range all {
				os.Remove(p + ".orig")
			}
			st := runCached(t, dir, wasm)
			if want := (CompilationCacheStats{Stored: modules, Refused: modules}); st != want {
				t.Fatalf("after the damage: %+v, want %+v", st, want)
			}
			st = runCached(t, dir, wasm)
			if want := (CompilationCacheStats{Loaded: modules}); st != want {
				t.Fatalf("the run after: %+v, want %+v", st, want)
			}
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCompilationCachePermissions: a directory others may write, or that
// is not the user's, or not a directory, is refused, the error naming the
// setting.
func TestCompilationCachePermissions(t *testing.T) {
	open := func(dir string) error {
		c, err := OpenCompilationCache(dir, "--compilation-cache")
		if err == nil {
			c.Close(context.Background())
		}
		return err
	}
	for _, mode := range []os.FileMode{0o777, 0o770, 0o702} {
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		err := open(dir)
		if err == nil || !strings.Contains(err.Error(), "--compilation-cache") || !strings.Contains(err.Error(), "writable by its group or others") {
			t.Errorf("mode %v: %v, want a refusal naming --compilation-cache", mode, err)
		}
	}
	// Not the user's: as root, a directory given to another user; as
	// another user, root's.
	other := "/"
	if os.Getuid() == 0 {
		other = t.TempDir()
		if err := os.Chmod(other, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}
	if err := open(other); err == nil || !strings.Contains(err.Error(), "--compilation-cache") || !strings.Contains(err.Error(), "not the current user") {
		t.Errorf("a directory of another user's: %v, want a refusal naming --compilation-cache", err)
	}
	// In a parent others may write (without the sticky bit of /tmp):
	// they could replace the directory.
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := open(filepath.Join(parent, "cache")); err == nil || !strings.Contains(err.Error(), "its parent directory "+parent+": writable by its group or others without the sticky bit") {
		t.Errorf("in a parent others may write: %v, want a refusal", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	write(t, file, nil)
	if err := open(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v, want a refusal", err)
	}
	// The user's own, mode 0755 (others may read, not write): accepted.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := open(dir); err != nil {
		t.Errorf("mode 0755: %v", err)
	}
}

// TestWazeroCacheTrustsItsFiles is why CompilationCache seals its
// entries: wazero's own directory cache (wazero 1.12) compiles, without
// error, a module from an entry whose function offsets were changed (its
// CRC covers the native code alone), which would jump into the wrong
// code; and fails every compilation of a module whose entry's native
// code changed, until the file is removed by hand.
func TestWazeroCacheTrustsItsFiles(t *testing.T) {
	ctx := context.Background()
	wasm := helloCore(t)
	dir := t.TempDir()
	compile := func() error {
		c, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(c))
		defer r.Close(ctx)
		_, err = r.CompileModule(ctx, wasm)
		return err
	}
	if err := compile(); err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
	if len(paths) != 1 {
		t.Fatalf("wazero wrote %v, want one entry", paths)
	}
	orig, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	// "WAZEVO", the version's length and the version, the count of
	// functions, then each function's offset in the native code.
	first := 6 + 1 + int(orig[6]) + 4
	if n := binary.LittleEndian.Uint32(orig[first-4:]); n < 2 {
		t.Fatalf("the entry has %d functions", n)
	}
	b := bytes.Clone(orig)
	binary.LittleEndian.PutUint64(b[first:], binary.LittleEndian.Uint64(orig[first+8:]))
	write(t, paths[0], b)
	if err := compile(); err != nil {
		t.Errorf("wazero refuses an entry whose first function's offset is the second's (%v): "+
			"it now checks them, and the comment on CompilationCache should say so", err)
	}
	b = bytes.Clone(orig)
	b[len(b)/2] ^= 0x40
	write(t, paths[0], b)
	for i := 0; i < 2; i++ {
		if err := compile(); err == nil {
			t.Errorf("compilation %d over an entry with a changed code byte: no error; "+
				"wazero now recompiles, and the comment on CompilationCache should say so", i)
		}
	}
}

// An entry that became a named pipe after the directory was listed is
// refused without waiting for a writer to open it.
func TestCompilationCacheEntryPipeNotWaited(t *testing.T) {
	p := filepath.Join(t.TempDir(), "entry")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := readEntry(p, [32]byte{}, "entry")
		done <- err
	}()
	select {
	case err := <-done:
		if err != errEntry {
			t.Fatalf("readEntry of a pipe: %v, want %v", err, errEntry)
		}
	case <-time.After(10 * time.Second):
		// Unblock the open so the goroutine ends with the test.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("readEntry waited for a writer of a pipe")
	}
}

// TestCompilationCacheRewrite: the stop flag's rewrite of a core module is
// kept with its native code, so that a start that loads the code does not
// rewrite the module again (before, each start rewrote it, some 60 ms for
// a 5 MB Go guest); a kept rewrite that does not verify, or is not a
// regular file, is removed and the module rewritten again and stored.
func TestCompilationCacheRewrite(t *testing.T) {
	wasm := helloCore(t)
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"intact", nil},
		{"a byte", func(t *testing.T, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x40
			write(t, p, b)
		}},
		{"truncated", func(t *testing.T, p string) {
			if err := os.Truncate(p, 100); err != nil {
				t.Fatal(err)
			}
		}},
		{"a symbolic link", func(t *testing.T, p string) {
			// To a copy of itself: whole and sealed, but not the
			// cache's own file.
			if err := os.Rename(p, p+".elsewhere"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(p+".elsewhere", p); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st, rw := runCachedRewrites(t, dir, wasm)
			if want := (RewriteStats{Stored: 1}); rw != want || st != (CompilationCacheStats{Stored: 1}) {
				t.Fatalf("first run: %+v %+v, want %+v", st, rw, want)
			}
			rewrites := cachefiles.Rewrites(t, dir)
			if len(rewrites) != 1 {
				t.Fatalf("%d rewrites kept, want 1: %v", len(rewrites), rewrites)
			}
			want := RewriteStats{Loaded: 1}
			if tc.damage != nil {
				for p := range rewrites {
					tc.damage(t, p)
				}
				want = RewriteStats{Stored: 1, Refused: 1}
			}
			st, rw = runCachedRewrites(t, dir, wasm)
			if rw != want || st != (CompilationCacheStats{Loaded: 1}) {
				t.Fatalf("second run: %+v %+v, want %+v and the code loaded", st, rw, want)
			}
			if tc.damage != nil {
				if _, rw = runCachedRewrites(t, dir, wasm); rw != (RewriteStats{Loaded: 1}) {
					t.Fatalf("the run after: %+v, want the rewrite loaded", rw)
				}
			}
		})
	}
}

// TestCompilationCacheStaleStaging: opening a cache removes the staging
// directories of processes that are gone (killed, or exited mid-
// compilation), and only those: a directory of the user's whose lock no
// process holds, older than staleStaging. A running process's (locked), a
// recent one, a symbolic link to a directory (and what it points to), and
// a file of that name stay. An abandoned cache (an interrupted run) leaves
// no staging directory.
func TestCompilationCacheStaleStaging(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * staleStaging)
	mkdir := func(name string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(p, "wazero-x"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mkdir("staging-stale")
	write(t, filepath.Join(stale, "wazero-x", "leftover"), []byte("x"))
	recent := mkdir("staging-recent")
	if err := os.Chtimes(recent, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(dir, "staging-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(elsewhere, old, old); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "staging-file"), []byte("x"))
	if err := os.Chtimes(filepath.Join(dir, "staging-file"), old, old); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	running, err := OpenCompilationCache(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close(ctx)
	live := filepath.Dir(running.staging)
	if err := os.Chtimes(live, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale staging directory is still there (%v)", err)
	}

	other, err := OpenCompilationCache(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{recent, live, filepath.Join(dir, "staging-link"), elsewhere, filepath.Join(dir, "staging-file")} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v, want it left", p, err)
		}
	}
	abandoned := filepath.Dir(other.staging)
	other.Abandon()
	if _, err := os.Stat(abandoned); !os.IsNotExist(err) {
		t.Errorf("Abandon left %s (%v)", abandoned, err)
	}
}

// TestCompilationCacheOutdated: opening a cache removes the entries'
// directories no run of this program can use again and that went unused
// for outdatedAge: an older rewrite's (stopcheck.Version), or under this
// rewrite an older wazero's, of this platform. A newer program's,
// another platform's, a recently used one, one whose wazero version is
// not a release, and a symbolic link (and what it points to) stay, and so
// does the program's own, whose entries load.
func TestCompilationCacheOutdated(t *testing.T) {
	dir := t.TempDir()
	wasm := helloCore(t)
	runCached(t, dir, wasm)
	stores, _ := filepath.Glob(filepath.Join(dir, "wasitls-r*"))
	if len(stores) != 1 {
		t.Fatalf("entries' directories %v, want one", stores)
	}
	own := filepath.Base(stores[0])
	rewrite, version, ok := parseStore(own)
	if !ok {
		t.Fatalf("the entries' directory %s is not named as parseStore reads", own)
	}
	platform := "-" + goruntime.GOARCH + "-" + goruntime.GOOS
	name := func(r int, v string) string { return fmt.Sprintf("wasitls-r%d-wazero-%s%s", r, v, platform) }
	old := time.Now().Add(-2 * outdatedAge)
	mkdir := func(n string, at time.Time) string {
		t.Helper()
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(p, "entry"), []byte("x"))
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Through OpenCompilationCache: an older rewrite's. (A test binary's
	// wazero is "dev", which is not ordered: the versions of wazero are
	// below, with a release as the current one.)
	olderRewrite := mkdir(name(rewrite-1, version), old)
	newerRewrite := mkdir(name(rewrite+1, version), old)
	if err := os.Chtimes(stores[0], old, old); err != nil {
		t.Fatal(err)
	}
	if st := runCached(t, dir, wasm); st != (CompilationCacheStats{Loaded: 1}) {
		t.Errorf("the program's own entries: %+v, want loaded", st)
	}
	if fi, err := os.Stat(stores[0]); err != nil || fi.ModTime().Before(time.Now().Add(-outdatedAge)) {
		t.Errorf("the program's own entries' directory: %v, want it marked used", err)
	}
	if _, err := os.Stat(olderRewrite); !os.IsNotExist(err) {
		t.Errorf("opening the cache left an older rewrite's entries (%v)", err)
	}
	if _, err := os.Stat(newerRewrite); err != nil {
		t.Errorf("opening the cache removed a newer rewrite's entries: %v", err)
	}

	const current = "v1.12.0"
	elsewhere := t.TempDir()
	if err := os.Chtimes(elsewhere, old, old); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, name(rewrite, "v1.9.1"))
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	gone := []string{olderRewrite, mkdir(name(rewrite, "v1.11.9"), old), mkdir(name(rewrite-1, "v1.13.0"), old)}
	kept := []string{
		newerRewrite,
		mkdir(name(rewrite, "v1.9.2"), time.Now()),
		mkdir(name(rewrite, "v1.12.1"), old),
		mkdir(name(rewrite, "v1.9.3-rc.1"), old),
		mkdir(name(rewrite, "dev"), old),
		mkdir(fmt.Sprintf("wasitls-r%d-wazero-v1.9.0-riscv64-plan9", rewrite), old),
		mkdir(name(rewrite, current), old),
		stores[0], link, elsewhere,
	}
	removeOutdated(dir, name(rewrite, current))
	for _, p := range gone {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it removed", filepath.Base(p), err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v, want it left", filepath.Base(p), err)
		}
	}
}
