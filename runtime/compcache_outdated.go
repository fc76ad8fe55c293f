package runtime

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// The entries' directories of older programs. Each wazero version and
// each rewrite version (stopcheck.Version) stores its entries in a
// directory of its own, wasitls-rN-wazero-VERSION-GOARCH-GOOS, whose
// entries no program with another rewrite or wazero can use. A program
// removes those that are older than its own, of its platform, unused for
// outdatedAge: a newer program's it leaves (it may still run), and
// another platform's (a home directory shared by machines of two kinds).
// An older program running meanwhile loses nothing it holds: an entry it
// opened stays readable once unlinked, and an entry it then stores into
// the removed directory is not stored (it compiles again next time). Each
// program marks its own directory used at each start (its time), so that
// two versions run in turn over one directory do not remove each other's
// entries; one run less often than outdatedAge compiles again.

// outdatedAge is how long an older program's entries' directory must
// have gone unused before a newer program removes it.
const outdatedAge = 7 * 24 * time.Hour

// removeOutdated removes the entries' directories in dir older than
// current's, the base name of the program's own (see above).
func removeOutdated(dir, current string) {
	rewrite, version, ok := parseStore(current)
	if !ok {
		return // another naming of wazero's: tell nothing apart
	}
	files, _ := os.ReadDir(dir)
	cutoff := time.Now().Add(-outdatedAge)
	for _, f := range files {
		r, v, ok := parseStore(f.Name())
		if !ok || !f.Type().IsDir() || f.Name() == current {
			continue
		}
		if r < rewrite || r == rewrite && olderVersion(v, version) {
			removeUnused(filepath.Join(dir, f.Name()), cutoff)
		}
	}
}

// parseStore returns the rewrite version and the wazero version of the
// entries' directory called name, when it is of this platform.
func parseStore(name string) (rewrite int, version string, ok bool) {
	rest, ok := strings.CutPrefix(name, "wasitls-r")
	if !ok {
		return 0, "", false
	}
	n, rest, ok := strings.Cut(rest, "-wazero-")
	if !ok {
		return 0, "", false
	}
	r, err := strconv.Atoi(n)
	if err != nil || r < 0 {
		return 0, "", false
	}
	version, ok = strings.CutSuffix(rest, "-"+goruntime.GOARCH+"-"+goruntime.GOOS)
	return r, version, ok && version != ""
}

// olderVersion reports whether the release a (vMAJOR.MINOR.PATCH) is
// older than the release b; false when either is not a release (a
// pre-release, a pseudo-version, a development build), which cannot be
// ordered so.
func olderVersion(a, b string) bool {
	va, oka := parseRelease(a)
	vb, okb := parseRelease(b)
	if !oka || !okb {
		return false
	}
	for i := range va {
		if va[i] != vb[i] {
			return va[i] < vb[i]
		}
	}
	return false
}

// parseRelease parses vMAJOR.MINOR.PATCH.
func parseRelease(v string) ([3]int, bool) {
	var out [3]int
	rest, ok := strings.CutPrefix(v, "v")
	parts := strings.Split(rest, ".")
	if !ok || len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// storeName is the base name of the entries' directory of this program,
// wazeroDir being wazero's directory's (wazero-VERSION-GOARCH-GOOS).
func storeName(wazeroDir string) string {
	return "wasitls-r" + strconv.Itoa(stopcheck.Version) + "-" + wazeroDir
}
