//go:build unix

package runtime_test

import (
	"context"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// TestUnsentBytes: the bytes a guest's TCP connections hold unsent for
// peers that never read are bounded by Limits.UnsentBytes beyond
// wasiio.UnsentFloor each. A wasm guest connecting 256 sockets (send
// buffers of 4 KiB) to peers that read nothing and writing each until
// check-write grants nothing grows the host's heap by at most 256 × 20
// KiB plus the 256 KiB cap (and the sockets' own): its permits shrank
// toward the 16 KiB a floor covers, and the cap logged one record. With
// the cap raised to 64 MiB, its permits stay 64 KiB, each connection
// holds what its last write left unsent (some 48 KiB), and the heap
// grows by about twice as much. Once the peers read, the guest writes
// on; after it dropped everything, no goroutine and no socket is left.
func TestUnsentBytes(t *testing.T) {
	const n, limit = 256, 256 << 10
	log, rec := capreporttest.New()
	bounded := fillUnsent(t, runtime.Config{Logger: log}, n, limit)
	if bounded.least < 16<<10 || bounded.least >= wasiio.WriteBudget {
		t.Errorf("least permit %d under a spent cap, want less than %d and at least the 16 KiB a floor covers", bounded.least, wasiio.WriteBudget)
	}
	if max := int64(n*wasiio.UnsentFloor + limit + 4<<20); bounded.grown > max {
		t.Errorf("the host's heap grew by %d KiB while %d connections held unsent bytes under a cap of %d KiB; want at most %d KiB (floors, cap and 4 MiB of sockets)", bounded.grown>>10, n, limit>>10, max>>10)
	}
	if err := rec.Check("--max-unsent-bytes", limit, 1); err != nil {
		t.Error(err)
	}

	log2, rec2 := capreporttest.New()
	raised := fillUnsent(t, runtime.Config{Logger: log2}, n, 64<<20)
	if raised.least != wasiio.WriteBudget {
		t.Errorf("least permit %d under a cap of 64 MiB, want the full %d", raised.least, wasiio.WriteBudget)
	}
	if err := rec2.Check("--max-unsent-bytes", 64<<20, 0); err != nil {
		t.Error(err)
	}
	t.Logf("heap growth with %d connections to peers that never read: %d KiB under a cap of %d KiB, %d KiB under 64 MiB", n, bounded.grown>>10, limit>>10, raised.grown>>10)
	if raised.grown < bounded.grown+n*(8<<10) {
		t.Errorf("heap growth %d KiB with the cap raised, not 8 KiB a connection more than the %d KiB under the cap: the cap did not bound it", raised.grown>>10, bounded.grown>>10)
	}
}

type unsentRun struct {
	least uint64 // the least permit check-write granted
	grown int64  // heap growth while the connections were blocked
}

// fillUnsent runs "hog unsent" under cfg with Limits.UnsentBytes limit,
// connecting n sockets to loopback peers that read nothing until the
// guest is blocked, then everything; it checks that the guest goes on,
// and that no goroutine or socket is left once it ended.
func fillUnsent(t *testing.T, cfg runtime.Config, n int, limit int64) unsentRun {
	t.Helper()
	// Small receive buffers, so that the peers' kernel takes little.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var peers []net.Conn
	read := make(chan struct{})
	var readers sync.WaitGroup
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			peers = append(peers, c)
			mu.Unlock()
			readers.Add(1)
			go func() {
				defer readers.Done()
				<-read
				io.Copy(io.Discard, c)
			}()
		}
	}()
	var once sync.Once
	cleanup := func() {
		once.Do(func() {
			ln.Close()
			<-acceptDone
			mu.Lock()
			for _, c := range peers {
				c.Close()
			}
			mu.Unlock()
			readers.Wait()
		})
	}
	defer cleanup()

	policy := &sockets.Policy{}
	if err := policy.AllowConnect("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	cfg.Network = policy
	rt, compiled := hogRuntimeConfig(t, cfg)
	goroutines, fds := goruntime.NumGoroutine(), openFDs()
	var before, during goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	hog := startHog(t, rt, compiled, runtime.Limits{UnsentBytes: limit}, "unsent", strconv.Itoa(n), port)
	lines, stdinW, done := hog.lines, hog.stdin, hog.done
	var run unsentRun
	var k int
	if !lines.Scan() {
		t.Fatalf("no output: %v", lines.Err())
	}
	if _, err := fmt.Sscanf(lines.Text(), "blocked %d: least permit %d", &k, &run.least); err != nil || k != n {
		t.Fatalf("guest: %q", lines.Text())
	}
	goruntime.GC()
	goruntime.ReadMemStats(&during)
	run.grown = int64(during.HeapAlloc) - int64(before.HeapAlloc)

	close(read)
	if _, err := io.WriteString(stdinW, "read\n"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"continued 1048576", "closed"} {
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("guest: %q, want %q (%v)", lines.Text(), want, lines.Err())
		}
	}
	stdinW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the guest did not end")
	}
	// The lingering queues deliver to the reading peers and release
	// their sockets: only the peers' are left open.
	waitFor(t, func() bool { return openFDs() <= fds+n }, func() string {
		return fmt.Sprintf("%d descriptors open after the guest ended, %d before it and %d peers", openFDs(), fds, n)
	})
	cleanup()
	waitFor(t, func() bool { return goruntime.NumGoroutine() <= goroutines && openFDs() <= fds }, func() string {
		return fmt.Sprintf("%d goroutines and %d descriptors after the guest and its peers ended, %d and %d before", goruntime.NumGoroutine(), openFDs(), goroutines, fds)
	})
	return run
}

// waitFor waits up to 10 s for ok, then fails t with what says.
func waitFor(t *testing.T, ok func() bool, what func() string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
	}
}
