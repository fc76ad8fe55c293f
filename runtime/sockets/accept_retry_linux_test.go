//go:build linux

package sockets

import (
	"net/netip"
	"syscall"
	"testing"
	"time"
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
	_, err = s.Accept(bg)
	restore()
	if err != NewSocketLimit {
		t.Fatalf("accept with the process out of descriptors: %v, want new-socket-limit", err)
	}
	giveUp := time.Now().Add(5 * time.Second)
	for {
		wait(t, s)
		r, err := s.Accept(bg)
		if err == nil {
			r.F1.(interface{ Close() error }).Close()
			r.F2.(interface{ Close() error }).Close()
			r.F0.(*TCPSocket).Close()
			break
		}
		if time.Now().After(giveUp) {
			t.Fatalf("accept 5 s after descriptors were free again: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
