//go:build unix

package main

import (
	"io"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRunStartup is `wasitls run` of the demo's Go client guest
// (examples/client-showcase, some 5 MB), which prints its usage and exits
// at once: the run is its start-up. "none" runs without a cache, "first"
// with --compilation-cache over an empty directory (it compiles and
// stores), "second" over the directory the first filled (it loads).
// cpu-ns/op is the process's CPU time, user and system, a run (the
// machine's other load moves wall time more than it).
//
//	go test ./cmd/wasitls -run '^$' -bench RunStartup -benchtime 5x
func BenchmarkRunStartup(b *testing.B) {
	guest := wasmFile(b, "github.com/wasitls/wasitls/examples/client-showcase")
	saved := compilationCache
	compilationCache = nil // the in-memory cache of the package's tests would make every run warm
	defer func() { compilationCache = saved }()
	filled := filepath.Join(b.TempDir(), "cache")
	warm := func() []string { return []string{"--compilation-cache", filled} }
	if code := runOnce(b, append(warm(), guest)...); code != 2 {
		b.Fatalf("code %d, want 2 (the guest's usage)", code)
	}
	for _, bc := range []struct {
		name  string
		flags func() []string
	}{
		{"none", func() []string { return nil }},
		{"first", func() []string { return []string{"--compilation-cache", filepath.Join(b.TempDir(), "cache")} }},
		{"second", warm},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				args := append(bc.flags(), guest)
				before := cpuTime(b)
				if code := runOnce(b, args...); code != 2 {
					b.Fatalf("code %d, want 2 (the guest's usage)", code)
				}
				cpu += cpuTime(b) - before
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// runOnce is runCLI for a benchmark: the exit code alone.
func runOnce(b *testing.B, args ...string) int {
	return dispatch(b.Context(), append([]string{"run"}, args...), io.Discard, io.Discard)
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
