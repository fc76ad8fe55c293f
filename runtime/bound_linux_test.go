//go:build linux

package runtime_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// TestGuestBoundNotListening: a wasm guest's TCP socket that is bound and
// not listening refuses a client's connect, as a native one does; once the
// guest listens, the client connects. Before, start-bind made a listening
// socket, whose kernel completed handshakes the guest never asked for.
// The host holds no descriptor after the guest.
func TestGuestBoundNotListening(t *testing.T) {
	policy := &sockets.Policy{}
	if err := policy.AllowListen("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy})
	before := countFDs(t)
	pr, pw := io.Pipe()
	stdin, tell := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{Args: []string{"hog", "bound", "4"}, Stdin: stdin, Stdout: pw, Stderr: os.Stderr})
		pw.Close()
		done <- err
	}()
	ended := false
	defer func() {
		if ended {
			return
		}
		tell.Close()
		go io.Copy(io.Discard, pr)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("guest: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the guest did not end 10 s after its stdin")
		}
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("no output")
	}
	var port int
	if _, err := fmt.Sscanf(lines.Text(), "port %d", &port); err != nil {
		t.Fatalf("%q: %v", lines.Text(), err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("connect to the guest's bound socket before it listens: %v, want connection refused", err)
	}
	io.WriteString(tell, "listen\n")
	if !lines.Scan() || lines.Text() != "listening" {
		t.Fatalf("guest: %q, want listening", lines.Text())
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect once the guest listens: %v", err)
	}
	c.Close()
	tell.Close()
	ended = true
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return countFDs(t) <= before }, func() string {
		return fmt.Sprintf("%d descriptors open after the guest, %d before", countFDs(t), before)
	})
}
