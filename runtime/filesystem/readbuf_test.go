package filesystem

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/cabi"
)

// TestReadLendsBuffer: reads of 1 MiB allocate nothing once the buffer
// pool has one, called directly or within host calls of a cabi instance
// (the release runs at the call's End, cabi.Instance.AfterCall), and
// neither do smaller ones, from a pool of smaller buffers; what each
// returns is the file's bytes at its offset. Before, each read allocated
// what it read into.
func TestReadLendsBuffer(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 2*maxRead)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(dir, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, pre := newFS(t, Preopen{Host: dir, Guest: "/"})
	inst := cabi.NewInstance()
	ctx := cabi.WithInstance(context.Background(), inst)
	fd, err := pre[0].OpenAt(ctx, 0, "big", 0, types.DescriptorFlagsRead)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Drop()
	lowered := cabi.NewLowered(cabi.Options{Instance: inst})
	read := func(ctx context.Context, n, off uint64) []byte {
		call := cabi.Begin(ctx, lowered, "test#read")
		c := &call
		defer c.End()
		r, err := fd.Read(ctx, n, off)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.F0, data[off:off+n]) {
			t.Fatalf("read of %d at %d: wrong bytes", n, off)
		}
		if f.lentRead == nil {
			t.Fatal("no buffer lent during the call")
		}
		return r.F0
	}
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"in host calls", ctx}, {"directly", context.Background()}} {
		off := uint64(0)
		allocs := testing.AllocsPerRun(50, func() {
			if c.ctx == ctx {
				read(ctx, maxRead, off%maxRead)
			} else {
				r, err := fd.Read(c.ctx, maxRead, off%maxRead)
				if err != nil || !bytes.Equal(r.F0, data[off%maxRead:off%maxRead+maxRead]) {
					t.Fatalf("read: %v", err)
				}
			}
			off += 4093
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per 1 MiB read, want 0", c.name, allocs)
		}
	}
	read(ctx, maxRead, 0)
	if f.lentRead != nil {
		t.Error("a buffer is still lent after the call's End")
	}
	for _, n := range []uint64{100, 32 << 10, smallRead, smallRead + 1} {
		if allocs := testing.AllocsPerRun(50, func() { read(ctx, n, 0) }); allocs != 0 {
			t.Errorf("reads of %d bytes: %v allocations each, want 0", n, allocs)
		}
	}
}
