package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// Compiled guests on disk. wazero's own directory cache
// (wazero.NewCompilationCacheWithDir) trusts its files: it checks a CRC
// of the native code only, not the offsets of the functions within it,
// which it jumps to (an entry with one changed loads without error), it
// fails every later compilation of the module on an entry it cannot read
// (TestWazeroCacheTrustsItsFiles), and it loads another module's entry
// put under a module's name, on which Instantiate panicked. So a
// CompilationCache keeps its entries itself, each sealed with a SHA-256
// over the key it was stored under and its contents, and hands wazero
// only an entry that verified, in a staging directory of its own (empty
// between compilations) from which wazero reads it; what wazero writes
// there after compiling is sealed and moved into the store.

// A CompilationCache keeps the native code wazero compiles core modules
// to in a directory, so that a later process compiling the same module
// (the same bytes as wazero sees them, after the rewrite of CompileModule
// or a component's instantiation) loads it instead: for a Go guest of a
// few megabytes, a start-up several times as fast (README.md,
// "Performance"). Every compilation through a wazero.Runtime made by
// [CompilationCache.NewRuntime] goes through it: [CompileModule],
// [CompileModuleChecked], and the core modules of a component that
// [Runtime.InstantiateComponent] compiles.
//
// The cache holds native code the host executes, so the directory is
// trusted like the program's own binary: OpenCompilationCache refuses a
// directory that is not the current user's or that its group or others
// may write, as ssh's StrictModes refuses such a ~/.ssh, and creates it
// (and what it makes inside) accessible to the user alone. Entries are
// sealed with a SHA-256 and bound to their key: a truncated, corrupted or
// swapped entry is removed and the module compiled again, never given to
// wazero (docs/security.md).
//
// Modules under 16 KiB are compiled each time, not kept. An entry's key
// is a SHA-256 of the bytes wazero compiles, the rewrite's
// version (stopcheck.Version), wazero's module version and checksum as
// built into the program (or, lacking them, the program's executable),
// and the platform; wazero adds its own (the CPU
// features, the termination checks). A new wazero or rewrite so makes new
// entries, in a directory of their own; opening the cache removes those
// of older ones (removeOutdated), and staging directories left by dead
// processes (removeStaleStaging). Nothing bounds the directory's size:
// remove it to start again. The rewrite of a module compiled with
// CompileModule or CompileModuleChecked is kept too, keyed on its input,
// so that a start that loads the code does not rewrite the module again
// (see rewriteCached).
type CompilationCache struct {
	store   string                  // dir/wasitls-rN-wazero-VERSION-GOARCH-GOOS: the sealed entries
	staging string                  // wazero's directory beneath dir/staging-*: empty between compilations
	lock    *os.File                // dir/staging-*, locked while c is open (lockStaging)
	wazero  wazero.CompilationCache // over staging
	build   string                  // the wazero module built into the program
	mu      sync.Mutex              // one compilation at a time: what appears in staging is its
	loaded  atomic.Int64            // CompilationCacheStats.Loaded
	stored  atomic.Int64            // CompilationCacheStats.Stored
	refused atomic.Int64            // CompilationCacheStats.Refused
	closed  atomic.Bool             // set by Close or Abandon
	// rewriter names the rewriter's code (rewriterBuild), part of the
	// stored rewrites' keys; "" keeps none.
	rewriter        string
	rewritesLoaded  atomic.Int64 // RewriteStats.Loaded
	rewritesStored  atomic.Int64 // RewriteStats.Stored
	rewritesRefused atomic.Int64 // RewriteStats.Refused
}

// CompilationCacheStats counts what a CompilationCache did.
type CompilationCacheStats struct {
	// Loaded counts the compilations that found a verified entry and did
	// not compile (wazero loaded the entry, or had the module in memory).
	Loaded int64
	// Stored counts the compilations wazero made, whose native code was
	// then stored.
	Stored int64
	// Refused counts the entries refused: they did not verify (truncated,
	// corrupted, another key's), were not the user's or were writable by
	// others, or wazero failed on them; each was removed, and the module
	// compiled again.
	Refused int64
}

// entryMagic begins each entry; the format's version is its last bytes.
var entryMagic = []byte("wasitls-compiled\x00v1")

// minCached is the size of the smallest module kept on disk: wazero
// compiles a smaller one (the modules a component's loader makes to hold
// its memories, tables and lowered functions, a few hundred bytes) about
// as fast as the cache reads, checks and copies an entry.
const minCached = 16 << 10

// maxEntry bounds an entry's file: native code for the largest guest the
// runtime compiles (1 GiB of wasm) is far below it.
const maxEntry = 8 << 30

// OpenCompilationCache opens the cache in dir, creating it (mode 0700)
// if it does not exist. It refuses a dir that is not a directory, not
// owned by the current user, or writable by its group or others, naming
// flag (the setting that gave dir; "" names the argument), and on systems
// without Unix owners. Close it once the runtimes made with it are
// closed.
func OpenCompilationCache(dir, flag string) (*CompilationCache, error) {
	if flag == "" {
		flag = "the compilation cache"
	}
	if err := mkdirPrivate(dir); err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	if err := checkPrivate(dir); err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	build := wazeroBuild()
	if build == "" {
		return nil, fmt.Errorf("%s: the program holds no record of the wazero it was built with (debug.ReadBuildInfo), "+
			"nor can it find its executable: entries of another wazero could not be told apart", flag)
	}
	removeStaleStaging(dir)
	staging, err := os.MkdirTemp(dir, "staging-")
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	lock, err := lockStaging(staging)
	if err != nil {
		os.RemoveAll(staging)
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	wc, err := wazero.NewCompilationCacheWithDir(staging)
	var sub []os.DirEntry
	if err == nil {
		sub, err = os.ReadDir(staging)
	}
	if err == nil && (len(sub) != 1 || !sub[0].IsDir()) {
		err = errors.New("wazero made no directory of its own in the staging directory")
	}
	if err != nil {
		os.RemoveAll(staging)
		lock.Close()
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	// wazero names its directory by its version and the platform
	// (wazero-VERSION-GOARCH-GOOS): so is the entries' directory named.
	store := filepath.Join(dir, storeName(sub[0].Name()))
	if err := mkdirPrivate(store); err == nil {
		err = checkPrivate(store)
	}
	if err == nil {
		// Used now (see removeOutdated).
		now := time.Now()
		err = os.Chtimes(store, now, now)
	}
	if err != nil {
		wc.Close(context.Background())
		os.RemoveAll(staging)
		lock.Close()
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	removeOutdated(dir, filepath.Base(store))
	return &CompilationCache{store: store, staging: filepath.Join(staging, sub[0].Name()), lock: lock,
		wazero: wc, build: build, rewriter: rewriterBuild()}, nil
}

// staleStaging is the age past which a staging directory whose lock no
// process holds is removed (removeStaleStaging). The lock tells a running
// process's from a dead one's; the age only leaves alone one a process
// has just made and not yet locked.
const staleStaging = 10 * time.Minute

// removeStaleStaging removes the staging directories in dir that no
// running process holds, older than staleStaging (see removeUnused): those
// of processes killed, or that exited with a compilation in progress.
func removeStaleStaging(dir string) {
	files, _ := os.ReadDir(dir)
	cutoff := time.Now().Add(-staleStaging)
	for _, f := range files {
		if strings.HasPrefix(f.Name(), "staging-") && f.Type().IsDir() {
			removeUnused(filepath.Join(dir, f.Name()), cutoff)
		}
	}
}

// mkdirPrivate creates dir, and its missing parents, accessible to the
// user alone; a dir that exists is left as it is.
func mkdirPrivate(dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.MkdirAll(dir, 0o700)
}

// checkPrivate refuses a path that is not a directory, not the current
// user's, or writable by its group or others.
func checkPrivate(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	if err := checkOwner(fi); err != nil {
		return err
	}
	return checkParents(dir)
}

// checkParents refuses a dir whose parent directories another user could
// replace it in: each must be the user's or root's, and writable by its
// group or others only when sticky (as /tmp is), as ssh checks the
// directories above ~/.ssh.
func checkParents(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if err := checkParent(fi); err != nil {
			return fmt.Errorf("its parent directory %s: %w", p, err)
		}
		if filepath.Dir(p) == p {
			return nil
		}
	}
}

// wazeroBuild names the wazero module built into the program: its
// version and checksum (or its replacement's); or, in a program without
// that record (a test binary, a build outside a module), the program's
// executable (its path, size and time), so that each build has entries
// of its own. It is "" when neither is known.
func wazeroBuild() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == "github.com/tetratelabs/wazero" {
				if m.Replace != nil {
					m = m.Replace
				}
				if m.Version != "" && m.Version != "(devel)" && m.Sum != "" {
					return m.Path + "@" + m.Version + " " + m.Sum
				}
			}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return executableBuild(exe)
}

// NewRuntime returns a wazero.Runtime with configuration rc whose
// CompileModule goes through the cache. Host modules, and a module
// compiled by its Instantiate or InstantiateWithConfig (which take bytes),
// are compiled as rc says, without it.
func (c *CompilationCache) NewRuntime(ctx context.Context, rc wazero.RuntimeConfig) wazero.Runtime {
	return &cachedRuntime{wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(c.wazero)), c}
}

// Stats returns what the cache did so far.
func (c *CompilationCache) Stats() CompilationCacheStats {
	return CompilationCacheStats{Loaded: c.loaded.Load(), Stored: c.stored.Load(), Refused: c.refused.Load()}
}

// Close closes the wazero compilation cache beneath c, which the
// runtimes made with NewRuntime use (close them first), and removes its
// staging directory. Later compilations through those runtimes fail.
// Closing a nil cache does nothing.
func (c *CompilationCache) Close(ctx context.Context) error {
	if c == nil || c.closed.Swap(true) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.wazero.Close(ctx)
	if rerr := os.RemoveAll(filepath.Dir(c.staging)); err == nil {
		err = rerr
	}
	c.lock.Close()
	return err
}

// Abandon removes the staging directory without waiting for a
// compilation in progress, which then fails, and closes c as Close does
// otherwise: for a program about to exit with a compilation running
// (interrupted), which Close would wait for. Abandoning a nil or closed
// cache does nothing.
func (c *CompilationCache) Abandon() {
	if c == nil || c.closed.Swap(true) {
		return
	}
	os.RemoveAll(filepath.Dir(c.staging))
}

// A cachedRuntime is a wazero.Runtime whose CompileModule goes through a
// CompilationCache.
type cachedRuntime struct {
	wazero.Runtime
	c *CompilationCache
}

// CompileModule compiles wasm through the cache.
func (r *cachedRuntime) CompileModule(ctx context.Context, wasm []byte) (wazero.CompiledModule, error) {
	return r.c.compile(ctx, r.Runtime, wasm)
}

// key is the key of the entries of wasm.
func (c *CompilationCache) key(wasm []byte) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "wasitls compiled module\x00rewrite %d\x00%s\x00%s/%s\x00%d\x00", stopcheck.Version, c.build, goruntime.GOOS, goruntime.GOARCH, len(wasm))
	h.Write(wasm)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// compile compiles wasm with r, whose wazero cache is c's: it puts the
// entries of wasm that verify where wazero looks for them, compiles, and
// stores what wazero wrote. A compilation that fails, or panics, on an
// entry is made again without it, the entry refused.
func (c *CompilationCache) compile(ctx context.Context, r wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	if c.closed.Load() {
		return nil, errors.New("runtime: the compilation cache is closed")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(wasm) < minCached {
		defer c.clearStaging()
		return r.CompileModule(ctx, wasm)
	}
	key := c.key(wasm)
	prefix := hex.EncodeToString(key[:]) + "-"
	placed := c.place(key, prefix)
	defer c.clearStaging()
	compiled, err := compilePlaced(ctx, r, wasm, len(placed) > 0)
	if err != nil && len(placed) > 0 {
		// wazero failed on an entry that verified (or on the module):
		// compile without the entries, and refuse them if that works.
		c.clearStaging()
		if compiled, err = r.CompileModule(ctx, wasm); err == nil {
			for name := range placed {
				c.refuse(filepath.Join(c.store, prefix+name))
			}
			placed = nil
		}
	}
	if err != nil {
		return nil, err
	}
	c.collect(key, prefix, placed)
	return compiled, nil
}

// compilePlaced is r.CompileModule, with a panic turned into an error
// when entries were placed (wazero reading one); without, it goes on.
func compilePlaced(ctx context.Context, r wazero.Runtime, wasm []byte, placed bool) (compiled wazero.CompiledModule, err error) {
	if placed {
		defer func() {
			if v := recover(); v != nil {
				compiled, err = nil, fmt.Errorf("runtime: wazero panicked loading a cached module: %v", v)
			}
		}()
	}
	return r.CompileModule(ctx, wasm)
}

// place copies the entries stored under key that verify into the
// staging directory, under wazero's names for them, and returns what it
// wrote, by name. Entries that do not verify are refused.
func (c *CompilationCache) place(key [sha256.Size]byte, prefix string) map[string]os.FileInfo {
	files, _ := os.ReadDir(c.store)
	placed := map[string]os.FileInfo{}
	for _, f := range files {
		name, ok := strings.CutPrefix(f.Name(), prefix)
		if !ok || strings.Contains(name, ".") {
			continue // another module's, or a file being written (see storeEntry)
		}
		path := filepath.Join(c.store, f.Name())
		if !f.Type().IsRegular() {
			c.refuse(path) // opening a pipe would wait
			continue
		}
		payload, err := readEntry(path, key, name)
		if err != nil {
			c.refuse(path)
			continue
		}
		dst := filepath.Join(c.staging, name)
		if err := os.WriteFile(dst, payload, 0o600); err != nil {
			os.Remove(dst)
			continue
		}
		if fi, err := os.Stat(dst); err == nil {
			placed[name] = fi
		}
	}
	return placed
}

// refuse removes the entry at path and counts it.
func (c *CompilationCache) refuse(path string) {
	os.Remove(path)
	c.refused.Add(1)
}

// collect stores what wazero wrote into the staging directory (it
// compiled), and counts the compilation: stored, or loaded when it wrote
// nothing over the entries placed.
func (c *CompilationCache) collect(key [sha256.Size]byte, prefix string, placed map[string]os.FileInfo) {
	files, _ := os.ReadDir(c.staging)
	stored := false
	for _, f := range files {
		name := f.Name()
		path := filepath.Join(c.staging, name)
		if strings.Contains(name, ".") || !f.Type().IsRegular() {
			continue // a temporary file of wazero's
		}
		if was, ok := placed[name]; ok {
			if fi, err := os.Stat(path); err == nil && os.SameFile(was, fi) {
				continue // read, not written again
			}
		}
		payload, err := os.ReadFile(path)
		if err == nil && c.storeEntry(key, prefix, name, payload) == nil {
			stored = true
		}
	}
	switch {
	case stored:
		c.stored.Add(1)
	case len(placed) > 0:
		c.loaded.Add(1)
	}
}

// clearStaging empties the staging directory: wazero read what it needed
// from it, and keeps the module in memory.
func (c *CompilationCache) clearStaging() {
	files, _ := os.ReadDir(c.staging)
	for _, f := range files {
		os.Remove(filepath.Join(c.staging, f.Name()))
	}
}

// storeEntry seals payload, wazero's entry called name for the module of
// key, and stores it, replacing what was there in one rename.
func (c *CompilationCache) storeEntry(key [sha256.Size]byte, prefix, name string, payload []byte) error {
	wname, err := hex.DecodeString(name)
	if err != nil || len(wname) != sha256.Size {
		return fmt.Errorf("runtime: wazero wrote an entry named %q", name)
	}
	f, err := os.CreateTemp(c.store, prefix+name+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(sealEntry(key, wname, payload))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(c.store, prefix+name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// sealEntry is the file of an entry: entryMagic, the key, wazero's name,
// the payload's length and the payload, then a SHA-256 of all of it.
func sealEntry(key [sha256.Size]byte, wname, payload []byte) []byte {
	var b bytes.Buffer
	b.Write(entryMagic)
	b.Write(key[:])
	b.Write(wname)
	binary.Write(&b, binary.LittleEndian, uint64(len(payload)))
	b.Write(payload)
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// errEntry is the refusal of an entry that does not verify.
var errEntry = errors.New("runtime: a compilation cache entry does not verify")

// readEntry reads the entry at path, sealed for key under wazero's name
// name, and returns its payload if it verifies and is a regular file of
// the current user's, not writable by its group or others.
func readEntry(path string, key [sha256.Size]byte, name string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxEntry {
		return nil, errEntry
	}
	if err := checkOwner(fi); err != nil {
		return nil, err
	}
	// Read at its size, in one buffer (a file replaced meanwhile is
	// another inode, this one whole; one cut short fails).
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	head := len(entryMagic) + 2*sha256.Size + 8
	wname, err := hex.DecodeString(name)
	if err != nil || len(b) < head+sha256.Size || !bytes.Equal(b[:len(entryMagic)], entryMagic) {
		return nil, errEntry
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	k := body[len(entryMagic) : len(entryMagic)+sha256.Size]
	n := body[len(entryMagic)+sha256.Size : head-8]
	size := binary.LittleEndian.Uint64(body[head-8 : head])
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) ||
		!bytes.Equal(k, key[:]) || !bytes.Equal(n, wname) || size != uint64(len(body)-head) {
		return nil, errEntry
	}
	return body[head:], nil
}
