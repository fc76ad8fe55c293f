package runtime_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// rlimitChild is the environment variable that makes a test of this
// file the child process that lowers its limit.
const rlimitChild = "WASITLS_TEST_RLIMIT_CHILD"

// rlimitChildProcess runs the test t in a child process and reports
// false; in that child, it lowers RLIMIT_NOFILE to 256, before anything
// sizes the process's descriptor pool, and reports true: the test runs
// there.
func rlimitChildProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(rlimitChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), rlimitChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		return false
	}
	lim := syscall.Rlimit{Cur: 256, Max: 256}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	return true
}

// TestProcessSocketsRlimit: in a process whose RLIMIT_NOFILE is 256 (a
// child process of the test, which lowers it before anything sizes the
// process's socket pool), a wasm guest binding all the sockets its own
// limit allows (4,096, each a descriptor) stops at the process's pool,
// with new-socket-limit; another guest still binds its floor's worth,
// and the host still opens files. Without the pool, the first guest
// would bind sockets until the process ran out of descriptors, and then
// the second guest's sockets and the host's files would fail with EMFILE.
func TestProcessSocketsRlimit(t *testing.T) {
	if !rlimitChildProcess(t) {
		return
	}
	pool := sockets.ProcessSockets()
	if want := 256 - sockets.DescriptorReserve(256); pool.Limit() != want {
		t.Fatalf("the process's pool has %d units under RLIMIT_NOFILE 256, want %d", pool.Limit(), want)
	}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy(t, nil, []string{"127.0.0.1:*"})})
	greedy := startPoolGuest(t, rt, compiled, "binds", "4096")
	share := pool.Limit() - pool.Spare()
	if got, want := greedy.line(t), fmt.Sprintf("bound %d, then error %d", share, sockets.NewSocketLimit); got != want {
		t.Fatalf("greedy guest: %q, want %q", got, want)
	}
	other := startPoolGuest(t, rt, compiled, "binds", fmt.Sprint(pool.Floor()))
	if got, want := other.line(t), fmt.Sprintf("bound %d", pool.Floor()); got != want {
		t.Fatalf("another guest: %q, want %q", got, want)
	}
	hostOpens(t, 64)
	greedy.end(t)
	other.end(t)
	waitUsed(t, pool, 0)
}

// TestProcessFilesRlimit: in a process whose RLIMIT_NOFILE is 256, a
// wasm guest opening all the files its own limit allows (4,096, each a
// descriptor) through a preopen stops at the process's descriptor pool,
// with insufficient-memory, as past Limits.Files; other guests still
// open their floor's worth of files (through wasi_snapshot_preview1:
// EIO past it) or bind sockets, and the host still opens files. A guest
// that traps, and the greedy one closed, give their descriptors back.
// Before the pool counted files, the first guest opened files until the
// process ran out of descriptors, and then the other guests' files and
// sockets and the host's files failed with EMFILE.
func TestProcessFilesRlimit(t *testing.T) {
	if !rlimitChildProcess(t) {
		return
	}
	pool := sockets.ProcessSockets()
	rt, compiled := hogRuntimeConfig(t, runtime.Config{
		Network: policy(t, nil, []string{"127.0.0.1:*"}),
		Limits:  runtime.Limits{Files: 4096},
	})
	dirs := fileDir(t)
	greedy := startPoolGuestDirs(t, rt, compiled, dirs, "opens", "4096")
	share := pool.Limit() - pool.Spare()
	if got, want := greedy.line(t), fmt.Sprintf("opened %d, then error %d", share, types.ErrorCodeInsufficientMemory); got != want {
		t.Fatalf("greedy guest: %q, want %q", got, want)
	}
	quarter := pool.Floor() / 4
	files := startPoolGuestDirs(t, rt, compiled, dirs, "p1opens", fmt.Sprint(quarter))
	if got, want := files.line(t), fmt.Sprintf("opened %d", quarter); got != want {
		t.Fatalf("a guest opening files: %q, want %q", got, want)
	}
	binds := startPoolGuestDirs(t, rt, compiled, dirs, "binds", fmt.Sprint(quarter))
	if got, want := binds.line(t), fmt.Sprintf("bound %d", quarter); got != want {
		t.Fatalf("a guest binding sockets: %q, want %q", got, want)
	}
	more := startPoolGuestDirs(t, rt, compiled, dirs, "p1opens", "4096")
	if got, want := more.line(t), fmt.Sprintf("opened %d, then error 29", pool.Spare()-2*quarter); got != want { // 29: EIO
		t.Fatalf("a guest opening files with the pool's spare part nearly spent: %q, want %q", got, want)
	}
	hostOpens(t, 64)
	if err := (<-greedy.inst).Close(context.Background()); err != nil {
		t.Fatalf("closing the greedy guest: %v", err)
	}
	<-greedy.done
	for _, g := range []*poolGuest{files, binds, more} {
		g.end(t)
	}
	waitUsed(t, pool, 0)
	trapAfter(t, startPoolGuestDirs(t, rt, compiled, dirs, "opens", fmt.Sprint(-share)), fmt.Sprintf("opened %d", share))
	waitUsed(t, pool, 0)
}

// TestProcessLookupsRlimit: in a process whose RLIMIT_NOFILE is 256,
// with the descriptor pool full of guests' sockets, guests holding all
// the lookups the process's lookup pool lets them start, each on Go's
// resolver with two DNS sockets to a server that never answers, leave
// the host descriptors of its own: the lookup pool is sized so that
// their sockets, which the resolver opens itself, out of the descriptor
// pool's reach, fit in half the reserve. Before, the lookup pool was
// 256 whatever the limit, and one guest's 192 lookups wanted 384 DNS
// sockets of a process of 256 descriptors.
func TestProcessLookupsRlimit(t *testing.T) {
	if !rlimitChildProcess(t) {
		return
	}
	pool, lookups := sockets.ProcessSockets(), sockets.ProcessLookups()
	if got, room := lookups.Limit()*sockets.DNSSocketsPerLookup, sockets.DescriptorReserve(256)/2; got > room {
		t.Fatalf("the lookup pool's DNS sockets: %d, more than half the reserve, %d", got, room)
	}
	silent := testnet.ServeUDP(t, func([]byte) []byte { return nil })
	rt, compiled := hogRuntimeConfig(t, runtime.Config{
		Network:  policy(t, []string{"*.silent.test:443"}, []string{"127.0.0.1:*"}),
		Resolver: testnet.SilentResolver(silent),
		Limits:   runtime.Limits{Lookups: 4096},
	})
	share := pool.Limit() - pool.Spare()
	binds := startPoolGuest(t, rt, compiled, "binds", "4096")
	if got, want := binds.line(t), fmt.Sprintf("bound %d, then error %d", share, sockets.NewSocketLimit); got != want {
		t.Fatalf("a guest binding sockets: %q, want %q", got, want)
	}
	spare := startPoolGuest(t, rt, compiled, "binds", fmt.Sprint(pool.Spare()))
	if got, want := spare.line(t), fmt.Sprintf("bound %d", pool.Spare()); got != want {
		t.Fatalf("a guest binding the pool's spare part: %q, want %q", got, want)
	}
	before := openDescriptors(t)
	greedy := startPoolGuest(t, rt, compiled, "inflight", "4096", "g%d.silent.test")
	failure := fmt.Sprintf("then error %d", sockets.TemporaryResolverFailure)
	if got, want := greedy.line(t), fmt.Sprintf("lookups %d, %s", lookups.Limit()-lookups.Spare(), failure); got != want {
		t.Fatalf("greedy lookup guest: %q, want %q", got, want)
	}
	var others []*poolGuest
	for i := 0; lookups.Used() < lookups.Limit(); i++ {
		g := startPoolGuest(t, rt, compiled, "inflight", fmt.Sprint(lookups.Floor()), fmt.Sprintf("o%d-%%d.silent.test", i))
		if got, want := g.line(t), fmt.Sprintf("lookups %d", lookups.Floor()); got != want {
			t.Fatalf("lookup guest %d: %q, want %q", i, got, want)
		}
		others = append(others, g)
	}
	want := before + lookups.Limit()*sockets.DNSSocketsPerLookup
	for deadline := time.Now().Add(10 * time.Second); openDescriptors(t) < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) { // a hang guard
			t.Fatalf("the process holds %d descriptors, want %d: %d before the lookups, and two DNS sockets for each of %d", openDescriptors(t), want, before, lookups.Limit())
		}
	}
	hostOpens(t, 32)
	for _, g := range append(others, greedy, binds, spare) {
		g.end(t)
	}
	waitUsed(t, pool, 0)
	waitUsed(t, lookups, 0)
}

// openDescriptors counts the process's open descriptors.
func openDescriptors(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds) - 1 // the directory's own, read
}

// hostOpens has the host open n files at once, failing the test if one
// cannot be, and closes them.
func hostOpens(t *testing.T, n int) {
	t.Helper()
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for range n {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatalf("the host opens %d files, then: %v", len(files), err)
		}
		files = append(files, f)
	}
}
