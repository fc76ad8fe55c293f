//go:build !wasip1

package wasifs_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
)

// callCounter counts the calls of host functions (those of a module
// other than the guest's), by name.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.ModuleName() == "" || strings.HasPrefix(def.ModuleName(), "fstest") {
		return nil
	}
	name := def.ModuleName() + "#" + def.Name()
	return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
		c.mu.Lock()
		c.calls[name]++
		c.mu.Unlock()
	})
}

// hostCalls runs the fstest guest writing n bytes, one Write each, and
// returns the host calls it made, by function.
func hostCalls(t *testing.T, n int) map[string]int {
	t.Helper()
	c := &callCounter{calls: map[string]int{}}
	ctx := experimental.WithFunctionListenerFactory(context.Background(), c)
	// No compilation cache: a cached module keeps the listeners of its
	// first compile.
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	rt, err := runtime.New(ctx, r, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, guest))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
		Args: []string{"fstest", "writes", "/d", strconv.Itoa(n)},
		Dirs: []runtime.Dir{{Host: dir, Guest: "/d"}},
	}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "writes.txt")); err != nil || len(b) != n {
		t.Fatalf("writes.txt: %d bytes (%v), want %d", len(b), err, n)
	}
	return c.calls
}

// TestWriteHostCalls: a File's Write of a byte asks the host for one
// flush, as counted between a guest making 1 and 101 such writes: one
// write and one flush per Write, then check-write (and poll while the
// flush runs on the host) to wait for it. Before, it asked for the flush
// twice (StreamWriter.Write requested it, then Flush again, before Flush
// learnt to skip a request with nothing written since). How often
// check-write and poll run depends on when the host's flush ends: logged,
// not counted.
func TestWriteHostCalls(t *testing.T) {
	one, many := hostCalls(t, 1), hostCalls(t, 101)
	for name, k := range many {
		if d := k - one[name]; d != 0 {
			t.Logf("%s: %d", name, d)
		}
	}
	for _, fn := range []string{"write", "flush"} {
		name := "wasi:io/streams@0.2.8#[method]output-stream." + fn
		if d := many[name] - one[name]; d != 100 {
			t.Errorf("100 writes made %d calls of output-stream.%s, want 100", d, fn)
		}
	}
}
