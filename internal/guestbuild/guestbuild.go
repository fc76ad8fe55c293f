// Package guestbuild compiles Go packages into WebAssembly guests
// (GOOS=wasip1 GOARCH=wasm) for tests, benchmarks and the demo. Builds go
// through the go command and so through its build cache; within one process
// each package is built once.
package guestbuild

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

type result struct {
	once sync.Once
	wasm []byte
	err  error
}

var (
	mu    sync.Mutex
	cache = map[string]*result{}
)

// Build compiles the Go package at pkg (an import path or a directory
// path, as `go build` takes it) and returns the core wasm module.
func Build(pkg string, extraArgs ...string) ([]byte, error) {
	key := fmt.Sprint(pkg, extraArgs)
	mu.Lock()
	r, ok := cache[key]
	if !ok {
		r = &result{}
		cache[key] = r
	}
	mu.Unlock()
	r.once.Do(func() { r.wasm, r.err = build(pkg, extraArgs) })
	return r.wasm, r.err
}

func build(pkg string, extraArgs []string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "guestbuild")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "guest.wasm")
	args := append([]string{"build", "-o", out}, extraArgs...)
	args = append(args, pkg)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("guestbuild: go build %s for wasip1: %v\n%s", pkg, err, stderr.String())
	}
	return os.ReadFile(out)
}

// MustBuild is Build for tests: it fails t on error.
func MustBuild(t testing.TB, pkg string, extraArgs ...string) []byte {
	t.Helper()
	wasm, err := Build(pkg, extraArgs...)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}
