package runtime_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/guestbuild"
)

// readOnces counts the goroutines reading a socket for an inline input
// stream's wait beside other pollables.
func readOnces() int {
	buf := make([]byte, 1<<20)
	buf = buf[:goruntime.Stack(buf, true)]
	return strings.Count(string(buf), "wasiio.(*InlineInputStream).readOnce")
}

// waitReadOnces waits, at most 5 s, until readOnces is want.
func waitReadOnces(want int) error {
	deadline := time.Now().Add(5 * time.Second)
	for readOnces() != want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines read for an input stream, want %d", readOnces(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// TestGuestDropInputEndsRead: a wasm guest waits on two sockets' input
// streams and a timer (a stream beside a timer alone waits on the guest's
// call, bounded by the timer), which leaves a host goroutine reading the
// socket of a silent peer, then drops the stream and keeps the socket and its
// output stream. The goroutine ends within a bounded wait (before, it
// stayed until the peer sent something or the socket closed), the output
// stream and the socket still work, and nothing is left once the guest is
// gone.
func TestGuestDropInputEndsRead(t *testing.T) {
	if goruntime.GOOS == "windows" || goruntime.GOOS == "plan9" {
		t.Skip("sockets' streams are not inline on this platform")
	}
	guestbuild.MustBuild(t, "./testdata/dropinput")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	goroutines, fds := goruntime.NumGoroutine(), countFDs(t)
	// Reads of earlier tests' sockets end with their guests.
	if err := waitReadOnces(0); err != nil {
		t.Fatalf("before the guest: %v", err)
	}
	peer := make(chan error, 1)
	go func() { peer <- dropInputPeer(ln) }()
	stdout, stderr, err := run(t, "./testdata/dropinput", policy(t, []string{addr}, nil), addr)
	if perr := <-peer; perr != nil {
		t.Fatalf("peer: %v (guest: %v, stderr %q)", perr, err, stderr)
	}
	if err != nil || stdout != "ok\n" {
		t.Fatalf("guest: %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	settle(t, goroutines, fds)
}

// dropInputPeer is the guest's peer: silent on the main connection, it
// checks the host's reader at each step and gives the go-aheads on the
// sync connection. Returning closes both, which ends a guest waiting.
func dropInputPeer(ln net.Listener) error {
	accept := func(tag string) (net.Conn, *bufio.Reader, error) {
		c, err := ln.Accept()
		if err != nil {
			return nil, nil, err
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(c)
		if err := expectLine(r, tag); err != nil {
			c.Close()
			return nil, nil, err
		}
		return c, r, nil
	}
	sc, _, err := accept("sync")
	if err != nil {
		return err
	}
	defer sc.Close()
	mc, mr, err := accept("main")
	if err != nil {
		return err
	}
	defer mc.Close()
	if err := expectLine(mr, "polled"); err != nil {
		return err
	}
	// Both sockets are read for the guest's wait (the sync one until the
	// go-ahead arrives).
	if err := waitReadOnces(2); err != nil {
		return fmt.Errorf("after the wait beside a timer: %w", err)
	}
	sc.Write([]byte("1"))
	if err := expectLine(mr, "got"); err != nil {
		return err
	}
	// The guest has its go-ahead: the host reads the main socket alone.
	if err := waitReadOnces(1); err != nil {
		return fmt.Errorf("after the go-ahead: %w", err)
	}
	sc.Write([]byte("2"))
	if err := expectLine(mr, "dropped"); err != nil {
		return err
	}
	if err := waitReadOnces(0); err != nil {
		return fmt.Errorf("after the input stream's drop: %w", err)
	}
	sc.Write([]byte("3"))
	if err := expectLine(mr, "still"); err != nil {
		return err
	}
	if b, err := mr.ReadByte(); err != io.EOF {
		return fmt.Errorf("after the socket's drop: %q, %v, want EOF", b, err)
	}
	return nil
}

func expectLine(r *bufio.Reader, want string) error {
	line, err := r.ReadString('\n')
	if err != nil || line != want+"\n" {
		return fmt.Errorf("read %q, %v; want %q", line, err, want)
	}
	return nil
}
