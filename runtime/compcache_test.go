//go:build unix

package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
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
	return cache.Stats()
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
