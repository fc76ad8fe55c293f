package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/cachefiles"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/internal/syncbuf"
)

// TestRunCompilationCache runs a Go guest (a core module) and a C
// component twice with --compilation-cache: the first run stores the
// compiled code, the second runs the guest the same from the entries
// without writing them again (an entry is written only when wazero
// compiled), and nothing else is left in the directory.
func TestRunCompilationCache(t *testing.T) {
	comp := writeWasm(t, "hello.wasm", cguest.Build(t, cguest.Spec{Sources: []string{"../../runtime/testdata/components/hello.c"}, Adapter: cguest.Command}))
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "file.txt"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, guest string
		entries     int
	}{
		{"core", wasmFile(t, "./testdata/envdir"), 1},
		{"component", comp, 2}, // the main module and the adapter
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			run := func() {
				t.Helper()
				code, stdout, stderr := runCLI(t, "--compilation-cache", dir, "--env", "GREETING=hi", "--dir", data+":/data:ro", tc.guest)
				if code != 0 || !strings.Contains(stdout, "GREETING=hi\n") {
					t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
				}
			}
			run()
			first := cachefiles.Entries(t, dir)
			if len(first) != tc.entries {
				t.Fatalf("%d entries after the first run, want %d: %v", len(first), tc.entries, first)
			}
			run()
			cachefiles.CheckUnchanged(t, first, cachefiles.Entries(t, dir))
			if all, _ := os.ReadDir(dir); len(all) != 1 {
				t.Errorf("the cache directory holds %d files, want the entries' directory alone", len(all))
			}
		})
	}
}

// TestRunCompilationCacheRefused: a directory its group or others may
// write is refused, the error naming the flag, before the guest runs.
func TestRunCompilationCacheRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	guest := writeWasm(t, "guest.wasm", []byte("\x00asm\x01\x00\x00\x00"))
	code, _, stderr := runCLI(t, "--compilation-cache", dir, guest)
	if code != 1 || !strings.Contains(stderr, "--compilation-cache "+dir+": ") || !strings.Contains(stderr, "writable by its group or others") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

// TestRunCompilationCacheInterrupted interrupts `wasitls run
// --compilation-cache` while it compiles its guest (a 5 MB Go guest,
// seconds of CPU): the process exits after interruptGrace without waiting
// for the compilation, and leaves no staging directory in the cache
// (before, it left an empty one at each such interrupt).
func TestRunCompilationCacheInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildCommand(t)
	guest := wasmFile(t, "github.com/wasitls/wasitls/examples/client-showcase")
	dir := filepath.Join(t.TempDir(), "cache")
	cmd := exec.Command(bin, "run", "--compilation-cache", dir, guest)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	setup := time.After(interruptSetupBound)
	for staging := []string(nil); len(staging) == 0; staging, _ = filepath.Glob(filepath.Join(dir, "staging-*")) {
		select {
		case err := <-exited:
			t.Fatalf("exited before it could be interrupted: %v; output:\n%s", err, out.String())
		case <-setup:
			t.Fatalf("no staging directory in %v; output:\n%s", interruptSetupBound, out.String())
		case <-time.After(time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		t.Logf("exit: %v; output:\n%s", err, out.String())
	case <-time.After(interruptExitBound):
		t.Fatalf("still running %v after SIGINT; output:\n%s", interruptExitBound, out.String())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "staging-*")); len(left) != 0 {
		t.Errorf("the interrupted run left %v", left)
	}
}
