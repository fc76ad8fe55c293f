package filesystem

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// TestDescriptorBudget: open files, directories and directory streams
// each take a unit of the descriptor budget, far below the file limit;
// past it they fail with insufficient-memory, as past the limit; a
// stream over a file takes none (it holds no descriptor of its own);
// every unit comes back as they are dropped, and a refusal takes none.
func TestDescriptorBudget(t *testing.T) {
	ctx := context.Background()
	f, pre := newFileDirFS(t)
	pool := sockets.NewPool(3, 0, 0)
	share := sockets.NewShare(pool)
	f.SetDescriptorBudget(share)
	file, err := pre[0].OpenAt(ctx, 0, "a", 0, types.DescriptorFlagsRead)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := pre[0].OpenAt(ctx, 0, "d", 0, types.DescriptorFlagsRead)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := pre[0].ReadDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pool.Used() != 3 || share.Held() != 3 {
		t.Fatalf("a file, a directory and a directory stream: the pool counts %d, the share %d; want 3", pool.Used(), share.Held())
	}
	if _, err := pre[0].OpenAt(ctx, 0, "a", 0, types.DescriptorFlagsRead); err != InsufficientMemory {
		t.Fatalf("open-at past the budget: %v, want insufficient-memory", err)
	}
	if _, err := pre[0].ReadDirectory(ctx); err != InsufficientMemory {
		t.Fatalf("read-directory past the budget: %v, want insufficient-memory", err)
	}
	in, err := file.ReadViaStream(ctx, 0)
	if err != nil {
		t.Fatalf("a stream over an open file with the budget spent: %v", err)
	}
	if pool.Used() != 3 || f.Open() != 4 {
		t.Fatalf("with a stream: the pool counts %d, the file limit %d; want 3, 4", pool.Used(), f.Open())
	}
	in.Drop()
	file.Drop()
	sub.Drop()
	entries.Drop()
	if pool.Used() != 0 || f.Open() != 0 {
		t.Fatalf("after every drop the pool counts %d, the file limit %d", pool.Used(), f.Open())
	}
}

// BenchmarkOpenClose: a file opened and closed through open-at, without
// a descriptor budget and with one (the runtime's: a share of a pool),
// alternated five times in the same process, to compare the best of each.
func BenchmarkOpenClose(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	type variant struct {
		name   string
		budget DescriptorBudget
	}
	var rounds []variant
	for range 5 {
		rounds = append(rounds, variant{"budget", sockets.NewShare(sockets.NewSocketPool(1 << 20))}, variant{"none", nil})
	}
	for _, bc := range rounds {
		b.Run(bc.name, func(b *testing.B) {
			f, err := New([]Preopen{{Host: dir, Guest: "/"}})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			f.SetDescriptorBudget(bc.budget)
			pre := f.Directories()[0].F0.(*Descriptor)
			b.ReportAllocs()
			for b.Loop() {
				d, err := pre.OpenAt(ctx, 0, "a", 0, types.DescriptorFlagsRead)
				if err != nil {
					b.Fatal(err)
				}
				d.Drop()
			}
		})
	}
}
