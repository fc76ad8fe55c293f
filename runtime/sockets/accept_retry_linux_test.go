//go:build linux

package sockets

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/tcp"
	"github.com/wasitls/wasitls/cabi"
)

// TestAcceptOutOfDescriptors: a listener's accept that fails because the
// process is out of descriptors (EMFILE: other guests of the process, or
// the embedder, hold them all) is the guest's next accept's
// new-socket-limit, and the host tries again: once descriptors are free,
// the client waiting in the kernel's backlog is accepted. Before, the
// accept goroutine ended at its first error and the listener answered
// every later accept with it, for ever: a guest server backing off and
// retrying, as guest/net does, never accepted again.
func TestAcceptOutOfDescriptors(t *testing.T) {
	// The limit is set at the lowest free descriptor; a descriptor below
	// it that something else (an earlier test's connection) closes
	// meanwhile lets the accept through, proving nothing: try again.
	for try := 1; ; try++ {
		if acceptOutOfDescriptors(t) {
			return
		}
		if try == 3 {
			t.Fatal("the accept under the lowered descriptor limit succeeded in 3 tries")
		}
		t.Logf("try %d: a descriptor came free under the limit; trying again", try)
	}
}

// acceptOutOfDescriptors runs the test once; false: the accept under the
// lowered limit succeeded, so the shortage never happened.
func acceptOutOfDescriptors(t *testing.T) bool {
	var p Policy
	if err := p.AllowListen("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	s := mustSocket(t, st)
	defer s.Close()
	listenLoopback(t, st, s)
	la, err := s.LocalAddress(bg)
	if err != nil {
		t.Fatal(err)
	}
	port := FromWIT(la).Port()
	// The client's socket, made while descriptors are free.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	// No descriptor left for the process: its limit at the lowest free one.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	free, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(free)
	low := lim
	low.Cur = uint64(free)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(port), Addr: netip.MustParseAddr("127.0.0.1").As4()}); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	r, err := s.Accept(bg)
	restore()
	if err == nil {
		closeAccepted(r)
		return false
	}
	if err != NewSocketLimit {
		t.Fatalf("accept with the process out of descriptors: %v, want new-socket-limit", err)
	}
	giveUp := time.Now().Add(5 * time.Second)
	for {
		wait(t, s)
		r, err := s.Accept(bg)
		if err == nil {
			closeAccepted(r)
			return true
		}
		if time.Now().After(giveUp) {
			t.Fatalf("accept 5 s after descriptors were free again: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeAccepted closes what an accept returned.
func closeAccepted(r cabi.Tuple3[tcp.TCPSocket, streams.InputStream, streams.OutputStream]) {
	r.F1.(interface{ Close() error }).Close()
	r.F2.(interface{ Close() error }).Close()
	r.F0.(*TCPSocket).Close()
}
