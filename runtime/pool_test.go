package runtime_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// A poolGuest is a hog guest running on a goroutine, its instance kept
// (ModuleConfig.Started) so that the test can close it.
type poolGuest struct {
	lines *bufio.Scanner
	stdin *io.PipeWriter
	inst  chan *runtime.Instance // the instance, once started
	done  chan error             // Instantiate's error, once it ended
}

func startPoolGuest(t *testing.T, rt *runtime.Runtime, compiled wazero.CompiledModule, args ...string) *poolGuest {
	t.Helper()
	return startPoolGuestDirs(t, rt, compiled, nil, args...)
}

// startPoolGuestDirs is startPoolGuest with the preopens dirs.
func startPoolGuestDirs(t *testing.T, rt *runtime.Runtime, compiled wazero.CompiledModule, dirs []runtime.Dir, args ...string) *poolGuest {
	t.Helper()
	pr, pw := io.Pipe()
	stdinR, stdinW := io.Pipe()
	g := &poolGuest{lines: bufio.NewScanner(pr), stdin: stdinW, inst: make(chan *runtime.Instance, 1), done: make(chan error, 1)}
	t.Cleanup(func() { stdinW.Close() })
	go func() {
		_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
			Args: append([]string{"hog"}, args...), Stdin: stdinR, Stdout: pw, Stderr: os.Stderr, Dirs: dirs,
			Started: func(inst *runtime.Instance) { g.inst <- inst },
		})
		pw.CloseWithError(fmt.Errorf("guest ended: %v", err))
		g.done <- err
	}()
	return g
}

// line returns the guest's next line of output, failing the test if it
// ended first.
func (g *poolGuest) line(t *testing.T) string {
	t.Helper()
	if !g.lines.Scan() {
		t.Fatalf("no line from the guest: %v", g.lines.Err())
	}
	return g.lines.Text()
}

// end closes the guest's standard input and waits for it to end.
func (g *poolGuest) end(t *testing.T) {
	t.Helper()
	g.stdin.Close()
	if err := <-g.done; err != nil {
		t.Fatalf("guest: %v", err)
	}
}

// trapAfter checks that the guest g prints want, then traps.
func trapAfter(t *testing.T, g *poolGuest, want string) {
	t.Helper()
	if got := g.line(t); got != want {
		t.Fatalf("trapping guest: %q, want %q", got, want)
	}
	if err := <-g.done; err == nil {
		t.Fatal("the trapping guest did not trap")
	}
}

// waitUsed waits, 10 s at most (a hang guard), for the pool to count
// want units.
func waitUsed(t *testing.T, p *sockets.Pool, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); p.Used() != want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pool counts %d units, want %d", p.Used(), want)
		}
	}
}

// TestSocketPoolShared: wasm guests of one runtime binding sockets (a
// descriptor each) draw from Config.SocketPool: one binding all it can
// stops at the pool's limit less its spare part, with new-socket-limit;
// two more get their floor from the spare part, and a fourth nothing
// once the pool is full. What each takes comes back, whatever its end:
// the first closed (Instance.Close), another trapping, others returning,
// and many guests binding and ending in turn.
func TestSocketPoolShared(t *testing.T) {
	pool := sockets.NewPool(40, 8, 4)
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy(t, nil, []string{"127.0.0.1:*"}), SocketPool: pool})
	limit := fmt.Sprintf("then error %d", sockets.NewSocketLimit)

	greedy := startPoolGuest(t, rt, compiled, "binds", "1000")
	if got, want := greedy.line(t), "bound 32, "+limit; got != want {
		t.Fatalf("greedy guest: %q, want %q", got, want)
	}
	small := startPoolGuest(t, rt, compiled, "binds", "4")
	if got := small.line(t); got != "bound 4" {
		t.Fatalf("a guest within its floor, the greedy one at its share: %q, want bound 4", got)
	}
	more := startPoolGuest(t, rt, compiled, "binds", "6")
	if got, want := more.line(t), "bound 4, "+limit; got != want {
		t.Fatalf("a guest past its floor in the spare part: %q, want %q", got, want)
	}
	late := startPoolGuest(t, rt, compiled, "binds", "1")
	if got, want := late.line(t), "bound 0, "+limit; got != want {
		t.Fatalf("a guest with the pool full: %q, want %q", got, want)
	}
	late.end(t)
	if got := pool.Used(); got != 40 {
		t.Fatalf("the pool counts %d, want 40", got)
	}

	if err := (<-greedy.inst).Close(context.Background()); err != nil {
		t.Fatalf("closing the greedy guest: %v", err)
	}
	<-greedy.done
	waitUsed(t, pool, 8)

	trapAfter(t, startPoolGuest(t, rt, compiled, "binds", "-20"), "bound 20")
	waitUsed(t, pool, 8)
	small.end(t)
	more.end(t)
	waitUsed(t, pool, 0)

	for i := range 30 {
		g := startPoolGuest(t, rt, compiled, "binds", strconv.Itoa(10+i%20))
		if got, want := g.line(t), "bound "+strconv.Itoa(10+i%20); got != want {
			t.Fatalf("guest %d: %q, want %q", i, got, want)
		}
		g.end(t)
		if got := pool.Used(); got != 0 {
			t.Fatalf("after guest %d the pool counts %d, want 0", i, got)
		}
	}
}

// TestLookupPoolShared: wasm guests of one runtime starting lookups a
// silent DNS server never answers draw from Config.LookupPool: one
// starting all it can stops at the pool's limit less its spare part,
// with temporary-resolver-failure, below its own Limits.Lookups; others
// still get their floor from the spare part. Ended, the guests give
// every lookup back.
func TestLookupPoolShared(t *testing.T) {
	silent := testnet.ServeUDP(t, func([]byte) []byte { return nil })
	pool := sockets.NewPool(10, 4, 2)
	rt, compiled := hogRuntimeConfig(t, runtime.Config{
		Network:    policy(t, []string{"*.silent.test:443"}, nil),
		Resolver:   testnet.SilentResolver(silent),
		LookupPool: pool,
	})
	failure := fmt.Sprintf("then error %d", sockets.TemporaryResolverFailure)

	greedy := startPoolGuest(t, rt, compiled, "inflight", "64", "g%d.silent.test")
	if got, want := greedy.line(t), "lookups 6, "+failure; got != want {
		t.Fatalf("greedy guest: %q, want %q", got, want)
	}
	small := startPoolGuest(t, rt, compiled, "inflight", "2", "s%d.silent.test")
	if got := small.line(t); got != "lookups 2" {
		t.Fatalf("a guest within its floor: %q, want lookups 2", got)
	}
	more := startPoolGuest(t, rt, compiled, "inflight", "3", "m%d.silent.test")
	if got, want := more.line(t), "lookups 2, "+failure; got != want {
		t.Fatalf("a guest past its floor: %q, want %q", got, want)
	}
	if got := pool.Used(); got != 10 {
		t.Fatalf("the pool counts %d, want 10", got)
	}
	greedy.end(t)
	small.end(t)
	more.end(t)
	waitUsed(t, pool, 0)
}

// TestDenialNamesGuest: two guests of one runtime, under one policy,
// each refused a connect: the policy's OnDeny tells them apart, by the
// module name and the number Guest.ID reports.
func TestDenialNamesGuest(t *testing.T) {
	addr := echoServer(t)
	p := policy(t, []string{"127.0.0.1:1"}, nil)
	denials := make(chan sockets.Denial, 16)
	p.OnDeny(func(d sockets.Denial) {
		if d.Op == sockets.DenyConnect {
			denials <- d
		}
	})
	ctx := context.Background()
	r, rt := testRuntime(t, runtime.NewFastRuntimeConfig(), runtime.Config{Network: p})
	compiled, err := runtime.CompileModule(ctx, r, guestbuild.MustBuild(t, "./testdata/denied"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tenant-a", "tenant-b", ""} {
		var id uint64
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{
			Name: name, Args: []string{"denied", addr, "127.0.0.1:1", "example.com"},
			Started: func(inst *runtime.Instance) { id = inst.ID() },
		})
		if err != nil {
			t.Fatalf("guest %q: %v", name, err)
		}
		d := <-denials
		if d.GuestName != name || d.GuestID != id || id == 0 {
			t.Errorf("guest %q (ID %d) denied a connect: the denial names %q, ID %d", name, id, d.GuestName, d.GuestID)
		}
	}
}

// fileDir returns a preopen at /data of a new directory holding the
// file f, which the hog guest's opens and p1opens modes open.
func fileDir(t *testing.T) []runtime.Dir {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("f"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []runtime.Dir{{Host: dir, Guest: "/data"}}
}

// TestFilePoolShared: wasm guests of one runtime opening files through
// a preopen (a descriptor each) draw from Config.SocketPool, the budget
// of descriptors their sockets draw from, as far as their own
// Limits.Files lets them: through wasi:filesystem's open-at one stops at
// the pool's limit less its spare part, with insufficient-memory, as
// past Limits.Files; another gets its floor from the spare part, files
// and sockets together, through wasi_snapshot_preview1's path_open,
// refused past it with EIO, as past Limits.Files. What each takes comes
// back, whatever its end: closed (Instance.Close), trapping, returning,
// and many guests opening and ending in turn.
func TestFilePoolShared(t *testing.T) {
	pool := sockets.NewPool(40, 8, 4)
	rt, compiled := hogRuntimeConfig(t, runtime.Config{
		Network:    policy(t, nil, []string{"127.0.0.1:*"}),
		SocketPool: pool,
		Limits:     runtime.Limits{Files: 1000},
	})
	dirs := fileDir(t)
	insufficient := fmt.Sprintf("then error %d", types.ErrorCodeInsufficientMemory)
	eio := "then error 29" // wasi_snapshot_preview1's EIO

	greedy := startPoolGuestDirs(t, rt, compiled, dirs, "opens", "1000")
	if got, want := greedy.line(t), "opened 32, "+insufficient; got != want {
		t.Fatalf("greedy guest: %q, want %q", got, want)
	}
	binds := startPoolGuestDirs(t, rt, compiled, dirs, "binds", "2")
	if got := binds.line(t); got != "bound 2" {
		t.Fatalf("a guest binding sockets within its floor, the greedy one at its share: %q, want bound 2", got)
	}
	p1 := startPoolGuestDirs(t, rt, compiled, dirs, "p1opens", "1000")
	if got, want := p1.line(t), "opened 4, "+eio; got != want {
		t.Fatalf("a guest opening files past its floor in the spare part: %q, want %q", got, want)
	}
	late := startPoolGuestDirs(t, rt, compiled, dirs, "opens", "1000")
	if got, want := late.line(t), "opened 2, "+insufficient; got != want {
		t.Fatalf("a guest in what is left of the spare part: %q, want %q", got, want)
	}
	if got := pool.Used(); got != 40 {
		t.Fatalf("the pool counts %d, want 40", got)
	}
	full := startPoolGuestDirs(t, rt, compiled, dirs, "binds", "1")
	if got, want := full.line(t), fmt.Sprintf("bound 0, then error %d", sockets.NewSocketLimit); got != want {
		t.Fatalf("a guest binding with the pool full of files: %q, want %q", got, want)
	}
	full.end(t)

	if err := (<-greedy.inst).Close(context.Background()); err != nil {
		t.Fatalf("closing the greedy guest: %v", err)
	}
	<-greedy.done
	waitUsed(t, pool, 8)

	trapAfter(t, startPoolGuestDirs(t, rt, compiled, dirs, "opens", "-20"), "opened 20")
	waitUsed(t, pool, 8)
	trapAfter(t, startPoolGuestDirs(t, rt, compiled, dirs, "p1opens", "-20"), "opened 20")
	waitUsed(t, pool, 8)
	for _, g := range []*poolGuest{binds, p1, late} {
		g.end(t)
	}
	waitUsed(t, pool, 0)

	for i := range 30 {
		mode, n := "opens", strconv.Itoa(10+i%20)
		if i%2 == 1 {
			mode = "p1opens"
		}
		g := startPoolGuestDirs(t, rt, compiled, dirs, mode, n)
		if got, want := g.line(t), "opened "+n; got != want {
			t.Fatalf("guest %d: %q, want %q", i, got, want)
		}
		g.end(t)
		if got := pool.Used(); got != 0 {
			t.Fatalf("after guest %d the pool counts %d, want 0", i, got)
		}
	}
}
