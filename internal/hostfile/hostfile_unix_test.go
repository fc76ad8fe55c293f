//go:build unix

package hostfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wait runs f, failing the test if it has not returned within a bound far
// above what it needs: f is expected not to block at all.
func wait[T any](t *testing.T, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("still blocked after 30s")
		panic("unreachable")
	}
}

func fifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

var key = Kind{What: "a private key", Max: 64 << 10}

// TestReadFIFONoWriter: a named pipe nobody writes to is an error at
// once, not an open that waits for a writer.
func TestReadFIFONoWriter(t *testing.T) {
	p := fifo(t)
	err := wait(t, func() error { _, err := Read(p, key); return err })
	wantErr(t, err, p, "named pipe with no writer", "a private key")
}

// TestReadFIFOSilentWriter: a pipe whose writer neither writes nor closes
// is an error after PipeWait.
func TestReadFIFOSilentWriter(t *testing.T) {
	p := fifo(t)
	w, err := os.OpenFile(p, os.O_RDWR, 0) // a writer that stays silent
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer func(d time.Duration) { PipeWait = d }(PipeWait)
	PipeWait = 50 * time.Millisecond
	err = wait(t, func() error { _, err := Read(p, key); return err })
	wantErr(t, err, p, "a pipe did not reach its end")
}

// TestReadPipe: a pipe whose writer writes and closes (process
// substitution) is read whole.
func TestReadPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() { w.WriteString("content"); w.Close() }()
	var b []byte
	err = wait(t, func() error {
		var err error
		b, err = Read(fmt.Sprintf("/dev/fd/%d", r.Fd()), key)
		return err
	})
	if err != nil || string(b) != "content" {
		t.Fatalf("read %q, %v; want the pipe's content", b, err)
	}
}

// TestReadDevices: /dev/zero and /dev/urandom are read up to the cap and
// no further, or refused on their first bytes where a magic number is
// wanted.
func TestReadDevices(t *testing.T) {
	for _, dev := range []string{"/dev/zero", "/dev/urandom"} {
		err := wait(t, func() error { _, err := Read(dev, key); return err })
		wantErr(t, err, dev, "larger than 64 KiB", "a private key")
		err = wait(t, func() error {
			_, err := Read(dev, Kind{What: "a wasm module", Max: 1 << 40, Magic: "\x00asm"})
			return err
		})
		wantErr(t, err, dev, "not a wasm module")
	}
}

// TestReadHugeSparse: a regular file above the cap is refused by its size,
// before anything is read.
func TestReadHugeSparse(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 8<<30); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	_, err := Read(p, Kind{What: "a wasm module", Max: 1 << 30})
	wantErr(t, err, p, "larger than 1 GiB", "a wasm module")
}

func TestReadDirectory(t *testing.T) {
	d := t.TempDir()
	_, err := Read(d, key)
	wantErr(t, err, d, "a directory", "a private key")
}

// TestOpenAppendFIFO: a key log named by a pipe, with or without a
// reader, is an error at once.
func TestOpenAppendFIFO(t *testing.T) {
	p := fifo(t)
	err := wait(t, func() error { return CheckAppendable(p) })
	wantErr(t, err, p, "named pipe")
	r, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = wait(t, func() error { return CheckAppendable(p) })
	wantErr(t, err, p, "a pipe, not a regular file")
}

func TestOpenAppendCreates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keylog")
	if err := CheckAppendable(p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat %v, %v; want a file of mode 0600", fi, err)
	}
}
