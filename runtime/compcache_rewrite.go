package runtime

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// The rewrites kept on disk. A module is rewritten (stopcheck) before
// wazero compiles it, and the compiled entry is keyed on the rewrite's
// output: a start that loads its native code would still rewrite its
// module first (some 60 ms for a 5 MB Go guest). So a CompilationCache
// keeps the rewrite's output too, sealed as an entry is, keyed on its
// input: the module's bytes, which rewrite (the stop flag's or the stack
// budget's alone), its table bound, and the rewriter's code
// (rewriterBuild). A stored rewrite that does not verify is removed and
// the module rewritten again.

// rewritePrefix begins the names of the stored rewrites in the store.
const rewritePrefix = "rewrite-"

// rewriteCached is rewrite(wasm, o), its output kept in the compilation
// cache of r when r was made by CompilationCache.NewRuntime: kind names
// rewrite.
func rewriteCached(r wazero.Runtime, wasm []byte, o stopcheck.Options, kind string,
	rewrite func([]byte, stopcheck.Options) ([]byte, error)) ([]byte, error) {
	cr, ok := r.(*cachedRuntime)
	if !ok || len(wasm) < minCached || cr.c.rewriter == "" || cr.c.closed.Load() {
		return rewrite(wasm, o)
	}
	return cr.c.rewrite(wasm, o, kind, rewrite)
}

// rewrite returns the stored rewrite of wasm when one verifies, and else
// rewrites wasm and stores the output.
func (c *CompilationCache) rewrite(wasm []byte, o stopcheck.Options, kind string,
	rewrite func([]byte, stopcheck.Options) ([]byte, error)) ([]byte, error) {
	key := c.rewriteKey(wasm, o, kind)
	name := hex.EncodeToString(key[:])
	path := filepath.Join(c.store, rewritePrefix+name)
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().IsRegular() {
			if out, err := readEntry(path, key, name); err == nil {
				c.rewritesLoaded.Add(1)
				return out, nil
			}
		}
		c.rewritesRefused.Add(1)
		os.Remove(path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return rewrite(wasm, o)
	}
	out, err := rewrite(wasm, o)
	if err != nil {
		return nil, err
	}
	if c.storeEntry(key, rewritePrefix, name, out) == nil {
		c.rewritesStored.Add(1)
	}
	return out, nil
}

// rewriteKey is the key of the stored rewrite of wasm by the rewrite kind
// with options o.
func (c *CompilationCache) rewriteKey(wasm []byte, o stopcheck.Options, kind string) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "wasitls rewritten module\x00%s\x00version %d\x00%s\x00tables %d\x00%s/%s\x00%d\x00",
		kind, stopcheck.Version, c.rewriter, o.Tables(), goruntime.GOOS, goruntime.GOARCH, len(wasm))
	h.Write(wasm)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// RewriteStats counts what a CompilationCache did with the rewrites of
// the modules it compiled (see CompileModule).
type RewriteStats struct {
	// Loaded counts the rewrites read from the cache instead of made.
	Loaded int64
	// Stored counts the rewrites made and stored.
	Stored int64
	// Refused counts the stored rewrites that did not verify (or were
	// not regular files, the user's alone): each was removed and the
	// module rewritten again.
	Refused int64
}

// RewriteStats returns what the cache did with rewrites so far.
func (c *CompilationCache) RewriteStats() RewriteStats {
	return RewriteStats{Loaded: c.rewritesLoaded.Load(), Stored: c.rewritesStored.Load(), Refused: c.rewritesRefused.Load()}
}

// rewriterBuild names the code of the rewriter built into the program:
// the wasitls module's version and checksum when the program was built
// from a published version of it; the revision it was built from when
// that had no change besides (the program's VCS stamp); or else its
// executable's Go build ID or, lacking one, its path, size and time, so
// that a build from changed sources never takes another's rewrites, whose
// rewriter may have been another (stopcheck.Version is raised with each
// change released, not with each edit). It is "" when none is known:
// rewrites are then not kept.
func rewriterBuild() string {
	const module = "github.com/wasitls/wasitls"
	if info, ok := debug.ReadBuildInfo(); ok {
		mods := append([]*debug.Module{&info.Main}, info.Deps...)
		for _, m := range mods {
			if m.Path != module {
				continue
			}
			if m.Replace != nil {
				m = m.Replace
			}
			if m.Version != "" && m.Version != "(devel)" && m.Sum != "" {
				return m.Path + "@" + m.Version + " " + m.Sum
			}
			if m == &info.Main {
				var rev, modified string
				for _, s := range info.Settings {
					switch s.Key {
					case "vcs.revision":
						rev = s.Value
					case "vcs.modified":
						modified = s.Value
					}
				}
				if rev != "" && modified == "false" {
					return module + " revision " + rev
				}
			}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if id := goBuildID(exe); id != "" {
		return "go build ID " + id
	}
	return executableBuild(exe)
}

// goBuildID returns the Go build ID of the executable exe (a hash of its
// inputs and its contents, the same for each run of one build, go run's
// cached builds included), read from its ELF note; "" where it has none.
func goBuildID(exe string) string {
	f, err := elf.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil || s.Size > 4096 {
		return ""
	}
	b, err := s.Data()
	// The note: the name's size (4), the ID's size, its type (4), "Go\0\0",
	// the ID.
	if err != nil || len(b) < 16 || string(b[12:16]) != "Go\x00\x00" {
		return ""
	}
	n := f.ByteOrder.Uint32(b[4:8])
	if f.ByteOrder.Uint32(b[0:4]) != 4 || uint64(n) > uint64(len(b)-16) {
		return ""
	}
	return string(b[16 : 16+n])
}

// executableBuild names the executable exe by its path, size and time, or
// is "" when it cannot be read.
func executableBuild(exe string) string {
	fi, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("executable %s %d %d", exe, fi.Size(), fi.ModTime().UnixNano())
}
