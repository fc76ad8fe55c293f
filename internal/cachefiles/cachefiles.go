// Package cachefiles lets tests see what a compilation cache directory
// (runtime.CompilationCache) holds, and whether a run wrote it.
package cachefiles

import (
	"os"
	"path/filepath"
	"testing"
)

// Entries returns the entries of native code the compilation cache in
// dir holds, by path.
func Entries(t testing.TB, dir string) map[string]os.FileInfo {
	t.Helper()
	return glob(t, dir, "[0-9a-f]*")
}

// Rewrites returns the rewritten modules the compilation cache in dir
// holds, by path.
func Rewrites(t testing.TB, dir string) map[string]os.FileInfo {
	t.Helper()
	return glob(t, dir, "rewrite-*")
}

// glob returns the files of the entries' directories in dir matching
// pattern.
func glob(t testing.TB, dir, pattern string) map[string]os.FileInfo {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "wasitls-r*", pattern))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]os.FileInfo{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		m[p] = fi
	}
	return m
}

// CheckUnchanged fails t unless after holds the entries of before, each
// the same file with the same time (not written again), and no other.
func CheckUnchanged(t testing.TB, before, after map[string]os.FileInfo) {
	t.Helper()
	for p, was := range before {
		if is, ok := after[p]; !ok || !os.SameFile(was, is) || !is.ModTime().Equal(was.ModTime()) {
			t.Errorf("%s was written again or removed", p)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d entries, were %d", len(after), len(before))
	}
}
