//go:build unix

package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime"
)

// TestPreview1FIFOGuest: a wasm guest opens a named pipe its preopen
// holds for reading and writing (path_open), so holding its only writer,
// asks for it to block (fd_fdstat_set_flags without FD_NONBLOCK) and
// reads it (fd_read): the flag is refused with ENOTSUP (58) and the read
// says EAGAIN (6) at once. Before, the read waited in the kernel for
// ever, whatever the guest's context or Instance.Close did.
func TestPreview1FIFOGuest(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inst := forwarder(t, runtime.Config{}, runtime.ModuleConfig{Dirs: []runtime.Dir{{Host: dir, Guest: "/d"}}},
		"fd_fdstat_set_flags", "fd_read", "path_open")
	mod := inst.Module()
	mod.Memory().Write(0, []byte("pipe"))
	const (
		opened = 16
		iov    = 32 // one iovec: 8 bytes at 64
		nread  = 48
		rights = 1<<1 | 1<<6 // fd_read, fd_write
	)
	mod.Memory().WriteUint32Le(iov, 64)
	mod.Memory().WriteUint32Le(iov+4, 8)
	call := func(name string, args ...uint64) uint64 {
		t.Helper()
		res, err := mod.ExportedFunction(name).Call(ctx, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res[0]
	}
	if errno := call("path_open", 3, 0, 0, 4, 0, rights, 0, 0, opened); errno != 0 {
		t.Fatalf("path_open: errno %d", errno)
	}
	fd, _ := mod.Memory().ReadUint32Le(opened)
	if errno := call("fd_fdstat_set_flags", uint64(fd), 0); errno != 58 {
		t.Errorf("fd_fdstat_set_flags without FD_NONBLOCK: errno %d, want ENOTSUP (58)", errno)
	}
	done := make(chan uint64, 1)
	go func() { done <- call("fd_read", uint64(fd), iov, 1, nread) }()
	select {
	case errno := <-done:
		if errno != 6 {
			t.Errorf("fd_read of the empty pipe: errno %d, want EAGAIN (6)", errno)
		}
	case <-time.After(5 * time.Second):
		if w, err := os.OpenFile(pipe, os.O_WRONLY, 0); err == nil {
			w.Write([]byte{1}) // let the read go
			w.Close()
		}
		<-done
		t.Fatal("fd_read of the empty pipe still waits after 5 s")
	}
}
