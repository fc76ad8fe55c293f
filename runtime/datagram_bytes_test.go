package runtime_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// TestDatagramBytes: the datagrams a guest's UDP sockets hold for it
// together are bounded by Limits.DatagramBytes, whatever each socket's
// queue allows. A guest binding 16 sockets and receiving nothing while a
// peer sends each 64 datagrams of 60,000 bytes (61 MB) makes the host
// copy about its 1 MiB limit of them; the rest are dropped. Before, each
// socket queued its 64 (4,096 sockets: 16 GiB). The cap, crossed on the
// sockets' read goroutines, logs one record naming the guest (capreport).
func TestDatagramBytes(t *testing.T) {
	const limit = 1 << 20
	log, rec := capreporttest.New()
	f := floodUDP(t, runtime.Config{Logger: log, Limits: runtime.Limits{DatagramBytes: limit}}, 16, 64, 60_000)
	if f.allocated > 8<<20 && !raceDetector {
		t.Errorf("the host allocated %d MiB while %d MB of datagrams arrived for a guest with a limit of 1 MiB", f.allocated>>20, f.sent/1_000_000)
	}
	// What the guest receives once it reads is what the host held.
	if f.received > limit || f.received < limit-60_000 {
		t.Errorf("guest received %d bytes, want about %d (the limit)", f.received, limit)
	}
	if err := rec.Check("--max-datagram-bytes", limit, 1); err != nil {
		t.Error(err)
	}
}

// TestDatagramQueue: each of a guest's UDP sockets holds at most
// Limits.DatagramQueue received datagrams; the host reads no more from
// the socket until the guest takes some, and the kernel's buffer drops
// the rest. A guest binding 16 sockets with a queue of 2 and receiving
// nothing while a peer sends each 64 datagrams of 60,000 bytes makes the
// host copy 32 of them, under a limit of bytes that would take them all.
// The cap, crossed on the read goroutines, logs one record naming the
// guest (capreport).
func TestDatagramQueue(t *testing.T) {
	const sockets16, queue, size = 16, 2, 60_000
	log, rec := capreporttest.New()
	f := floodUDP(t, runtime.Config{Logger: log, Limits: runtime.Limits{DatagramQueue: queue, DatagramBytes: 256 << 20}}, sockets16, 64, size)
	if f.allocated > 8<<20 && !raceDetector {
		t.Errorf("the host allocated %d MiB while %d MB of datagrams arrived for a guest with queues of %d", f.allocated>>20, f.sent/1_000_000, queue)
	}
	// Each queue, full, and what the host read as the guest took them.
	if f.received < sockets16*queue*size {
		t.Errorf("guest received %d bytes, want at least the %d its full queues held", f.received, sockets16*queue*size)
	}
	if err := rec.Check("--max-datagram-queue", queue, 1); err != nil {
		t.Error(err)
	}
}

// TestDatagramTooLarge: a datagram larger than Limits.Datagram that
// arrives for a guest's socket is dropped, as a guest's send of one is
// refused (datagram-too-large, TestGuestUDPEcho): a peer sending 4
// sockets 64 datagrams of 60,000 bytes each (15 MB) past a limit of
// 1,000 makes the host hold none of them, and the guest receives nothing.
// The cap, crossed on the read goroutines, logs one record naming the
// guest (capreport).
func TestDatagramTooLarge(t *testing.T) {
	const max = 1000
	log, rec := capreporttest.New()
	f := floodUDP(t, runtime.Config{Logger: log, Limits: runtime.Limits{Datagram: max}}, 4, 64, 60_000)
	if f.allocated > 4<<20 && !raceDetector {
		t.Errorf("the host allocated %d MiB while %d MB of datagrams too large for the guest arrived", f.allocated>>20, f.sent/1_000_000)
	}
	if f.received != 0 {
		t.Errorf("guest received %d bytes, want none", f.received)
	}
	if err := rec.Check("--max-datagram", max, 1); err != nil {
		t.Error(err)
	}
}

// A flood is what floodUDP measured. Its allocations are not judged with
// -race: sync.Pool then drops a quarter of what is put back at random, so
// the sockets' reads allocate the buffers they borrow anew (16 MiB for
// TestDatagramBytes' 1,024 datagrams).
type flood struct {
	sent      int    // bytes the peer sent
	allocated uint64 // bytes the process allocated meanwhile
	received  int    // bytes the guest received once it read
}

// floodUDP runs a guest under cfg (its network allowing UDP on loopback)
// that binds n sockets and receives nothing while a peer sends each
// perSocket datagrams of size bytes, paced, then, told on its stdin,
// reads every socket until it is empty. (However long the sending
// takes on a loaded machine, the guest does not read before its end.)
func floodUDP(t *testing.T, cfg runtime.Config, n, perSocket, size int) flood {
	t.Helper()
	policy := &sockets.Policy{}
	if err := policy.AllowUDP("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	cfg.Network = policy
	rt, compiled := hogRuntimeConfig(t, cfg)
	pr, pw := io.Pipe()
	sentR, sentW := io.Pipe()
	t.Cleanup(func() { sentW.Close() })
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{Args: []string{"hog", "udp", strconv.Itoa(n)}, Stdin: sentR, Stdout: pw, Stderr: os.Stderr})
		pw.Close()
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("no output")
	}
	ports := strings.Fields(lines.Text())
	if len(ports) != n {
		t.Fatalf("guest: %q", lines.Text())
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	var f flood
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	payload := make([]byte, size)
	for _, p := range ports {
		port, _ := strconv.Atoi(p)
		to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
		for range perSocket {
			if _, err := peer.WriteToUDP(payload, to); err != nil {
				t.Fatal(err)
			}
			f.sent += size
			// Paced, so that the kernel's buffer (a few of these) does not
			// drop them before the host reads them.
			time.Sleep(time.Millisecond)
		}
	}
	goruntime.ReadMemStats(&after)
	f.allocated = after.TotalAlloc - before.TotalAlloc
	if _, err := io.WriteString(sentW, "sent\n"); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() {
		t.Fatal("no second line")
	}
	if _, err := fmt.Sscanf(lines.Text(), "received %d bytes", &f.received); err != nil {
		t.Fatalf("guest: %q: %v", lines.Text(), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return f
}

// TestUDPIdleSockets: a guest's bound UDP sockets that receive nothing
// hold no read buffer on the host. A guest binding 512 sockets and
// reading none grows the host's heap by about 2 MiB, under 8 (the sockets, their
// connections and their read goroutines' bookkeeping). Before, each
// socket's read goroutine held a buffer of the largest datagram, 64 KiB,
// from its bind to its drop: 32 MiB for these, 256 MiB for the 4,096
// sockets the default --max-sockets allows, beside --max-datagram-bytes.
func TestUDPIdleSockets(t *testing.T) {
	const n = 512
	policy := &sockets.Policy{}
	if err := policy.AllowUDP("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy})
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	hog := startHog(t, rt, compiled, runtime.Limits{}, "udp", strconv.Itoa(n))
	lines := hog.lines
	if !lines.Scan() {
		t.Fatal("no output")
	}
	if ports := strings.Fields(lines.Text()); len(ports) != n {
		t.Fatalf("guest: %q", lines.Text())
	}
	// The sockets are bound and their read goroutines wait.
	waitGoroutinesIn(t, n, "[IO wait", "sockets.(*UDPSocket).readLoop")
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if _, err := io.WriteString(hog.stdin, "sent\n"); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || lines.Text() != "received 0 bytes" {
		t.Fatalf("guest: %q", lines.Text())
	}
	if err := <-hog.done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d idle UDP sockets: heap grew by %d KiB", n, grew>>10)
	if grew > 8<<20 {
		t.Errorf("%d idle UDP sockets grew the host's heap by %d MiB, want under 8", n, grew>>20)
	}
}

// waitGoroutinesIn waits up to 10 s for n goroutines whose stacks (their
// states included, "[IO wait") have every one of fns.
func waitGoroutinesIn(t *testing.T, n int, fns ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		k := goruntime.Stack(buf, true)
		if k == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		found := 0
		for _, g := range strings.Split(string(buf[:k]), "\n\n") {
			all := true
			for _, fn := range fns {
				all = all && strings.Contains(g, fn)
			}
			if all {
				found++
			}
		}
		if found >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines in %v after 10 s, want %d", found, fns, n)
		}
		time.Sleep(time.Millisecond)
	}
}
