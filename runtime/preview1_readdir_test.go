package runtime_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
)

// readdirGuest imports fd_readdir and exports it as is, with a memory of
// pages pages.
func readdirGuest(f importedFunc, pages int) []byte {
	var m wasmbin.Module
	m.ImportFunc(f.module, f.name, m.Type(f.params, f.results))
	m.Memory(pages, pages)
	body := []byte{0x20, 0, 0x20, 1, 0x20, 2, 0x20, 3, 0x20, 4, 0x10, 0}
	m.Export(f.name, wasmbin.ExportFunc, m.Func(m.Type(f.params, f.results), nil, body))
	m.Export("memory", wasmbin.ExportMemory, 0)
	return m.Bytes()
}

// readdirPages is the memory readdirInstance gives its guest: 2 MiB.
const readdirPages = 32

// readdirInstance instantiates readdirGuest (readdirPages of memory) with dir
// preopened as /d (descriptor 3), closed at the test's end, and returns
// its memory and its fd_readdir export.
func readdirInstance(t *testing.T, dir string) (api.Memory, api.Function) {
	t.Helper()
	ctx := context.Background()
	r, rt := testRuntime(t, runtime.NewRuntimeConfig(), runtime.Config{})
	compiled, err := r.CompileModule(ctx, readdirGuest(preview1Named(t, r, "fd_readdir")[0], readdirPages))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Dirs: []runtime.Dir{{Host: dir, Guest: "/d"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(ctx) })
	return inst.Module().Memory(), inst.Module().ExportedFunction("fd_readdir")
}

// TestPreview1ReaddirBounded: fd_readdir reads from the directory what a
// chunk of the guest's buffer holds at a time, not what its length
// claims: a guest asking for 4 GiB into a buffer 64 KiB from its memory's
// end makes the host read some 2,700 entries before the fault, not the
// whole directory (before, all 20,000, some 7 MiB allocated and 1 MiB
// kept until the descriptor closed, however small the guest's memory).
// What the guest reads is unchanged: a directory listed through buffers
// of 300 KiB (filled a chunk at a time) is the listing through buffers of
// 4 KiB (one call of wazero's each), each full buffer cut at its end.
func TestPreview1ReaddirBounded(t *testing.T) {
	dir := t.TempDir()
	const entries = 20000
	var want []string
	for i := range entries {
		name := fmt.Sprintf("entry-%06d", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		want = append(want, name)
	}
	want = append(want, ".", "..")
	slices.Sort(want)

	ctx := context.Background()
	mem, fn := readdirInstance(t, dir)
	const bufused = 0 // the buffers start at 8
	call := func(buf, bufLen uint32, cookie uint64) (uint32, uint64) {
		t.Helper()
		res, err := fn.Call(ctx, 3, uint64(buf), uint64(bufLen), cookie, bufused)
		if err != nil {
			t.Fatal(err)
		}
		used, _ := mem.ReadUint32Le(bufused)
		return used, res[0]
	}

	// list reads the directory through buffers of bufLen bytes.
	list := func(bufLen uint32) []string {
		t.Helper()
		var names []string
		var cookie uint64
		for {
			used, errno := call(8, bufLen, cookie)
			if errno != 0 {
				t.Fatalf("fd_readdir(%d bytes, cookie %d): errno %d", bufLen, cookie, errno)
			}
			b, _ := mem.Read(8, used)
			for len(b) >= 24 {
				next := binary.LittleEndian.Uint64(b)
				namlen := binary.LittleEndian.Uint32(b[16:])
				if uint64(len(b)) < 24+uint64(namlen) {
					break // cut at the buffer's end
				}
				if next != cookie+1 {
					t.Fatalf("buffers of %d bytes: d_next %d after cookie %d", bufLen, next, cookie)
				}
				names = append(names, string(b[24:24+namlen]))
				cookie = next
				b = b[24+namlen:]
			}
			if used < bufLen {
				return names
			}
			if len(b) == 0 {
				continue // full, none cut: more may follow
			}
		}
	}
	small := list(4096)
	large := list(300 << 10)
	if !slices.Equal(small, large) {
		t.Errorf("the listing through 300 KiB buffers (%d names) differs from the one through 4 KiB buffers (%d names)", len(large), len(small))
	}
	sorted := slices.Clone(large)
	slices.Sort(sorted)
	if !slices.Equal(sorted, want) {
		t.Errorf("the listing through 300 KiB buffers has %d names, want the directory's %d and the dot entries", len(sorted), entries)
	}

	// 4 GiB from 64 KiB before the memory's end.
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	_, errno := call(readdirPages<<16-64<<10, 0xffff0000, 0)
	goruntime.ReadMemStats(&after)
	if errno != 21 {
		t.Errorf("4 GiB past the memory's end: errno %d, want fault (21)", errno)
	}
	t.Logf("allocated %d KiB", (after.TotalAlloc-before.TotalAlloc)>>10)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("4 GiB past the memory's end: the host allocated %d KiB; a chunk of 64 KiB holds some 2,700 entries (under 2 MiB)", alloc>>10)
	}
}
