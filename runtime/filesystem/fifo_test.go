//go:build unix

package filesystem

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// TestOpenFIFO: a named pipe inside a preopen (a guest cannot make one,
// but a directory the host shares may hold one) opens at once, for
// reading with no writer and for writing with no reader, where open(2)
// would wait for the other end without bound, on the guest's call and
// beyond the reach of its context. Opened, its reads wait like a socket's
// and end when the descriptor is dropped.
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
		case <-time.After(time.Second):
			t.Fatalf("open-at of a named pipe (flags %v) still waits after a second", fl)
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
	case <-time.After(time.Second):
		t.Error("preview1 open of a named pipe still waits after a second")
	}
}
