package runtime_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// TestAcceptQueueCounts: the connections the host accepts for a guest's
// listener, queued until the guest accepts them, count toward its socket
// limit. A guest with a limit of 8 sockets listening with a backlog of
// 4096 and accepting nothing while 50 clients connect makes the host hold
// 7 connections, not 50: the host closes the others as it accepts them,
// and the guest then accepts the 7. Before, every listener queued up to
// its backlog (4096) beside the limit, 4096 listeners 16 million
// descriptors.
func TestAcceptQueueCounts(t *testing.T) {
	const limit, clients = 8, 50
	policy := &sockets.Policy{}
	if err := policy.AllowListen("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig().WithCompilationCache(cache))
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := runtime.New(ctx, r, runtime.Config{Network: policy, Limits: runtime.Limits{Sockets: limit}})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.CompileModule(ctx, guestbuild.MustBuild(t, "./testdata/hog"))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: []string{"hog", "queue", "4096"}, Stdout: pw, Stderr: os.Stderr})
		pw.Close()
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	var port int
	if !lines.Scan() {
		t.Fatal("no output")
	}
	if _, err := fmt.Sscanf(lines.Text(), "port %d", &port); err != nil {
		t.Fatalf("%q: %v", lines.Text(), err)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range clients {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), fmt.Sprintf("accepted %d, then error", limit-1)) {
		t.Fatalf("guest: %q, want %d accepted", lines.Text(), limit-1)
	}
	// The guest holds what it accepted for two seconds: the host has
	// closed every other connection.
	// (Each read at once: one past its deadline says so even with the
	// peer's close waiting.)
	reads := make(chan bool, clients)
	deadline := time.Now().Add(300 * time.Millisecond)
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		go func() {
			_, err := c.Read(make([]byte, 1))
			reads <- errors.Is(err, os.ErrDeadlineExceeded)
		}()
	}
	open := 0
	for range conns {
		if <-reads {
			open++
		}
	}
	if open != limit-1 {
		t.Errorf("%d of %d connections open while the guest holds %d and its listener, want %d", open, clients, limit-1, limit-1)
	}
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
