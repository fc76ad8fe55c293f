//go:build unix

package filesystem

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
)

// TestOpenFIFO: a named pipe inside a preopen (a guest cannot make one,
// but a directory the host shares may hold one) opens at once, for
// reading with no writer and for writing with no reader, where open(2)
// would wait for the other end without bound, on the guest's call and
// beyond the reach of its context.
func TestOpenFIFO(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
	open := func(fl types.DescriptorFlags) (types.Descriptor, error) {
		type result struct {
			d   types.Descriptor
			err error
		}
		done := make(chan result, 1)
		go func() {
			d, err := pre[0].OpenAt(ctx, 0, "pipe", 0, fl)
			done <- result{d, err}
		}()
		select {
		case r := <-done:
			return r.d, r.err
		case <-time.After(10 * time.Second): // it returns at once; room for load
			t.Fatalf("open-at of a named pipe (flags %v) still waits after 10 s", fl)
			return nil, nil
		}
	}
	d, err := open(types.DescriptorFlagsRead)
	if err != nil {
		t.Fatalf("open for reading: %v", err)
	}
	d.(*Descriptor).Drop()
	if d, err := open(types.DescriptorFlagsWrite); err == nil {
		d.(*Descriptor).Drop()
		t.Error("open for writing with no reader succeeded")
	}
	f.mu.Lock()
	n := f.open
	f.mu.Unlock()
	if n != 0 {
		t.Errorf("%d files held after the opens", n)
	}

	// wasi_snapshot_preview1's open, through the same preopen.
	done := make(chan error, 1)
	go func() {
		file, errno := f.Preview1()[0].OpenFile("pipe", experimentalsys.O_RDONLY, 0)
		if errno == 0 {
			file.Close()
			done <- nil
			return
		}
		done <- errno
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("preview1 open for reading: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("preview1 open of a named pipe still waits after 10 s")
	}
}

// TestPreview1FIFOStaysNonblocking: a wasi_snapshot_preview1 guest that
// opens a named pipe for reading and writing (holding its only writer),
// or a device, cannot make a read or write of it wait: clearing
// O_NONBLOCK (fd_fdstat_set_flags) fails with ENOTSUP, and a read of the
// empty pipe and writes past its buffer say EAGAIN at once. Before, the
// flag was cleared on the host's descriptor and the read waited in the
// kernel on the guest's call for ever: neither its context nor
// Instance.Close ended it, and its thread was lost to the host.
func TestPreview1FIFOStaysNonblocking(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := newFS(t, Preopen{Host: dir, Guest: "/"})
	file, errno := f.Preview1()[0].OpenFile("pipe", experimentalsys.O_RDWR, 0)
	if errno != 0 {
		t.Fatalf("open for reading and writing: %v", errno)
	}
	defer file.Close()
	pf := file.(experimentalsys.PollableFile)
	if errno := pf.SetNonblock(false); errno != experimentalsys.ENOTSUP {
		t.Errorf("clearing O_NONBLOCK: %v, want %v", errno, experimentalsys.ENOTSUP)
	}
	if !pf.IsNonblock() {
		t.Error("the pipe reads as blocking")
	}
	done := make(chan experimentalsys.Errno, 1)
	go func() {
		_, errno := file.Read(make([]byte, 16))
		done <- errno
	}()
	select {
	case errno := <-done:
		if errno != experimentalsys.EAGAIN {
			t.Errorf("read of the empty pipe: %v, want EAGAIN", errno)
		}
	case <-time.After(5 * time.Second):
		// Let the read go: a writer of our own gives it a byte.
		if w, err := os.OpenFile(pipe, os.O_WRONLY, 0); err == nil {
			w.Write([]byte{1})
			w.Close()
		}
		t.Fatal("a read of the empty pipe still waits after 5 s")
	}
	go func() {
		buf := make([]byte, 64<<10)
		for range 1 << 10 { // far past a pipe's buffer (64 KiB, up to 1 MiB)
			if _, errno := file.Write(buf); errno != 0 {
				done <- errno
				return
			}
		}
		done <- 0
	}()
	select {
	case errno := <-done:
		if errno != experimentalsys.EAGAIN {
			t.Errorf("writes past the pipe's buffer: %v, want EAGAIN", errno)
		}
	case <-time.After(5 * time.Second):
		// Let the writes go: drain the pipe.
		if r, err := os.OpenFile(pipe, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			go io.Copy(io.Discard, r)
		}
		t.Fatal("writes past the pipe's buffer still wait after 5 s")
	}
	if errno := pf.SetNonblock(true); errno != 0 {
		t.Errorf("setting O_NONBLOCK: %v", errno)
	}
}

// TestStreamErrorsNameNoHostPath: the error of a stream over a file, a
// text the guest reads (to-debug-string), names the file by the guest's
// path, not by the host's (before: "read /home/.../pipe: illegal seek",
// telling the guest where its preopen lies on the host); its
// filesystem-error-code is unchanged.
func TestStreamErrorsNameNoHostPath(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, pre := newFS(t, Preopen{Host: dir, Guest: "/data"})
	d, err := pre[0].OpenAt(ctx, 0, "pipe", 0, types.DescriptorFlagsRead|types.DescriptorFlagsWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Drop()
	in, err := d.ReadViaStream(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Drop()
	out, err := d.WriteViaStream(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Drop()
	_, rerr := in.BlockingRead(ctx, 16)
	werr := out.BlockingWriteAndFlush(ctx, []byte("x"))
	for what, err := range map[string]error{"read": rerr, "write": werr} {
		se, ok := err.(streams.StreamError)
		if !ok || se.Tag != streams.StreamErrorTagLastOperationFailed {
			t.Errorf("%s: %v, want last-operation-failed", what, err)
			continue
		}
		msg := se.LastOperationFailed.ToDebugString(ctx)
		if strings.Contains(msg, dir) || !strings.Contains(msg, "/data/pipe") {
			t.Errorf("%s: the guest reads %q", what, msg)
		}
		if code, ok := (Host{}).FilesystemErrorCode(ctx, se.LastOperationFailed); !ok || code != types.ErrorCodeInvalidSeek {
			t.Errorf("%s: filesystem-error-code %v %v, want invalid-seek", what, code, ok)
		}
	}
}
