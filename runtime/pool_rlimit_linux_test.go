package runtime_test

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// rlimitChild is the environment variable that makes
// TestProcessSocketsRlimit the child process that lowers its limit.
const rlimitChild = "WASITLS_TEST_RLIMIT_CHILD"

// TestProcessSocketsRlimit: in a process whose RLIMIT_NOFILE is 256 (a
// child process of the test, which lowers it before anything sizes the
// process's socket pool), a wasm guest binding all the sockets its own
// limit allows (4,096, each a descriptor) stops at the process's pool,
// with new-socket-limit; another guest still binds its floor's worth,
// and the host still opens files. Without the pool, the first guest
// would bind sockets until the process ran out of descriptors, and then
// the second guest's sockets and the host's files would fail with EMFILE.
func TestProcessSocketsRlimit(t *testing.T) {
	if os.Getenv(rlimitChild) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestProcessSocketsRlimit$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), rlimitChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		return
	}
	lim := syscall.Rlimit{Cur: 256, Max: 256}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
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
	var files []*os.File
	for range 64 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatalf("the host opens %d files, then: %v", len(files), err)
		}
		files = append(files, f)
	}
	for _, f := range files {
		f.Close()
	}
	greedy.end(t)
	other.end(t)
	waitUsed(t, pool, 0)
}
