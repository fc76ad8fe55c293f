//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testpki"
)

// runCLIBounded is runCLI, failing the test if the command has not ended
// within a bound far above what it needs: none of its start-up may wait.
func runCLIBounded(t *testing.T, args ...string) (code int, stderr string) {
	t.Helper()
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, _, stderr := runCLI(t, args...)
		done <- result{code, stderr}
	}()
	select {
	case r := <-done:
		return r.code, r.stderr
	case <-time.After(30 * time.Second):
		t.Fatalf("wasitls run %q still running after 30s", args)
		return 0, ""
	}
}

// TestRunHostFilesNeverWait: every file wasitls run reads or appends to at
// start-up, named by a FIFO with nobody at its other end, is an error
// naming the flag and the file, at once. Before, opening the FIFO waited
// for a peer that never came: the host hung at start-up.
func TestRunHostFilesNeverWait(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}})
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "leaf.key")
	os.WriteFile(cert, leaf.ChainPEM(), 0o644)
	os.WriteFile(key, leaf.KeyPEM(), 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	guest := filepath.Join(dir, "never-read.wasm")
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--keylog", fifo, guest}, "--keylog: "},
		{[]string{"--ca", fifo, guest}, "--ca: "},
		{[]string{"--client-ca", fifo, guest}, "--client-ca: "},
		{[]string{"--identity", "id=" + fifo + "," + key, guest}, "--identity id: "},
		{[]string{"--identity", "id=" + cert + "," + fifo, guest}, "--identity id: "},
		{[]string{"--identity", "id=" + cert + "," + key + "," + fifo, guest}, "--identity id: "},
		{[]string{fifo}, "guest: "},
	} {
		code, stderr := runCLIBounded(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.flag) || !strings.Contains(stderr, fifo+": a named pipe") {
			t.Errorf("%q: code %d, stderr %q; want an error naming %q and the pipe", tc.args, code, stderr, tc.flag)
		}
	}
	t.Setenv("SSLKEYLOGFILE", fifo)
	code, stderr := runCLIBounded(t, guest)
	if code == 0 || !strings.Contains(stderr, "$SSLKEYLOGFILE") || !strings.Contains(stderr, fifo+": a named pipe") {
		t.Errorf("SSLKEYLOGFILE=%s: code %d, stderr %q; want an error naming it and the pipe", fifo, code, stderr)
	}
}

// TestRunGuestFileBounded: a guest file that never ends (/dev/zero,
// /dev/urandom) is refused on its first bytes, and a directory is named
// as one. Before, the guest file was read whole: /dev/zero ran the host
// out of memory.
func TestRunGuestFileBounded(t *testing.T) {
	dir := t.TempDir()
	for guest, want := range map[string]string{
		"/dev/zero":    "guest: /dev/zero: not a wasm module or component",
		"/dev/urandom": "guest: /dev/urandom: not a wasm module or component",
		dir:            "guest: " + dir + ": a directory, where a wasm module or component was expected",
	} {
		code, stderr := runCLIBounded(t, guest)
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("%s: code %d, stderr %q; want %q", guest, code, stderr, want)
		}
	}
}
