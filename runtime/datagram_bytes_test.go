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

	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// TestDatagramBytes: the datagrams a guest's UDP sockets hold for it
// together are bounded by Limits.DatagramBytes, whatever each socket's
// queue allows. A guest binding 16 sockets and receiving nothing while a
// peer sends each 64 datagrams of 60,000 bytes (61 MB) makes the host
// copy about its 1 MiB limit of them; the rest are dropped. Before, each
// socket queued its 64 (4,096 sockets: 16 GiB).
func TestDatagramBytes(t *testing.T) {
	const sockets16, perSocket, size = 16, 64, 60_000
	const limit = 1 << 20
	policy := &sockets.Policy{}
	if err := policy.AllowUDP("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Limits: runtime.Limits{DatagramBytes: limit}})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{Args: []string{"hog", "udp", strconv.Itoa(sockets16)}, Stdout: pw, Stderr: os.Stderr})
		pw.Close()
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("no output")
	}
	ports := strings.Fields(lines.Text())
	if len(ports) != sockets16 {
		t.Fatalf("guest: %q", lines.Text())
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
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
			// Paced, so that the kernel's buffer (a few of these) does not
			// drop them before the host reads them.
			time.Sleep(time.Millisecond)
		}
	}
	goruntime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 8<<20 {
		t.Errorf("the host allocated %d MiB while %d MB of datagrams arrived for a guest with a limit of 1 MiB", d>>20, sockets16*perSocket*size/1_000_000)
	}
	// What the guest receives once it reads is what the host held.
	if !lines.Scan() {
		t.Fatal("no second line")
	}
	var received int
	if _, err := fmt.Sscanf(lines.Text(), "received %d bytes", &received); err != nil || received > limit || received < limit-size {
		t.Errorf("guest: %q, want about %d bytes (the limit)", lines.Text(), limit)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
