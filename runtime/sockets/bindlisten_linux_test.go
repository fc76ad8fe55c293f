//go:build linux

package sockets

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// noneLeft fails unless the process holds at most the before descriptors
// within 5 s (what an earlier test left may close meanwhile).
func noneLeft(t *testing.T, before int) {
	t.Helper()
	n := countFDs(t)
	for giveUp := time.Now().Add(5 * time.Second); n > before && time.Now().Before(giveUp); n = countFDs(t) {
		time.Sleep(10 * time.Millisecond)
	}
	if n > before {
		t.Errorf("%d descriptors open, %d before", n, before)
	}
}

// bindLoopback binds s to a free loopback port and returns it.
func bindLoopback(t *testing.T, st *Stack, s *TCPSocket) netip.AddrPort {
	t.Helper()
	if err := s.StartBind(bg, st.Network(), ToWIT(netip.MustParseAddrPort("127.0.0.1:0"))); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishBind(bg); err != nil {
		t.Fatal(err)
	}
	la, err := s.LocalAddress(bg)
	if err != nil {
		t.Fatal(err)
	}
	ap := FromWIT(la)
	if ap.Port() == 0 {
		t.Fatalf("local address %v after bind: the port is not resolved", ap)
	}
	return ap
}

func listenStack(t *testing.T) *Stack {
	t.Helper()
	var p Policy
	if err := p.AllowListen("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	if err := p.AllowConnect("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	return NewStack(&p)
}

// TestBoundNotListeningRefuses: a socket the guest bound and did not
// listen on refuses connects, as a native bound socket does; once it
// listens, a client connects and the guest accepts it. Before, start-bind
// made a listening socket: the client's handshake completed at once.
func TestBoundNotListeningRefuses(t *testing.T) {
	st := listenStack(t)
	s := mustSocket(t, st)
	defer s.Close()
	ap := bindLoopback(t, st, s)
	if c, err := net.DialTimeout("tcp", ap.String(), 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("connect to a bound socket not listening: %v, want connection refused", err)
	}
	if s.IsListening(bg) {
		t.Fatal("bound socket reports listening")
	}
	if err := s.StartListen(bg); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishListen(bg); err != nil {
		t.Fatal(err)
	}
	if la, err := s.LocalAddress(bg); err != nil || FromWIT(la) != ap {
		t.Fatalf("local address once listening: %v, %v; want %v", FromWIT(la), err, ap)
	}
	c, err := net.DialTimeout("tcp", ap.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wait(t, s)
	r, err := s.Accept(bg)
	if err != nil {
		t.Fatal(err)
	}
	a := r.F0.(*TCPSocket)
	if ka, _ := a.KeepAliveEnabled(bg); ka {
		t.Error("accepted socket reports keep-alive on")
	}
	if on := keepAliveOn(t, a.tcpConn()); on {
		t.Error("accepted connection has keep-alive on, the guest has it off")
	}
	r.F1.Drop()
	r.F2.Drop()
	a.Drop()
}

func keepAliveOn(t *testing.T, c *net.TCPConn) bool {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	rc.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
	if serr != nil {
		t.Fatal(serr)
	}
	return v != 0
}

// connect starts n non-blocking connects to ap.
func connect(t *testing.T, ap netip.AddrPort, n int) {
	t.Helper()
	for range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(fd) })
		if err := syscall.Connect(fd, sockaddr(IPv4, ap)); err != nil && err != syscall.EINPROGRESS {
			t.Fatalf("connect: %v", err)
		}
	}
}

// kernelQueue reports the kernel's accept queue of a listener: the
// connections it holds and its backlog (TCP_INFO of a listening socket:
// tcpi_unacked and tcpi_sacked).
func kernelQueue(t *testing.T, ln *net.TCPListener) (queued, backlog int) {
	t.Helper()
	rc, err := ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info syscall.TCPInfo
	var errno syscall.Errno
	rc.Control(func(fd uintptr) {
		size := uint32(unsafe.Sizeof(info))
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
	})
	if errno != 0 {
		t.Fatal(errno)
	}
	return int(info.Unacked), int(info.Sacked)
}

// TestListenBacklogKernel: a guest listening with a backlog of N and
// accepting nothing, 64 clients connecting, has the host queue N
// connections for its accept and the kernel at most N+1 more (Linux
// queues one past the backlog); the other clients' SYNs are dropped, or
// their handshakes left unfinished, and they wait. Set to a smaller value
// while listening, the backlog is the kernel's too (listen(2) again).
// Before, the kernel's backlog was the system's maximum
// (net.core.somaxconn, 4,096 by default): it queued all 61.
func TestListenBacklogKernel(t *testing.T) {
	const clients = 64
	for _, tc := range []struct {
		name  string
		after bool // set the backlog once listening
	}{{"before listen", false}, {"while listening", true}} {
		t.Run(tc.name, func(t *testing.T) {
			const backlog = 3
			st := listenStack(t)
			s := mustSocket(t, st)
			defer s.Close()
			ap := bindLoopback(t, st, s)
			if !tc.after {
				if err := s.SetListenBacklogSize(bg, backlog); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.StartListen(bg); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishListen(bg); err != nil {
				t.Fatal(err)
			}
			if tc.after {
				if err := s.SetListenBacklogSize(bg, backlog); err != nil {
					t.Fatal(err)
				}
			}
			connect(t, ap, clients)
			// The kernel's queue fills as handshakes complete, the
			// host's as its accept goroutine takes them; a SYN dropped
			// for a full queue is sent again after 1 s, then 2 s more.
			most := 0
			var queued, hostQueued, kernelBacklog int
			for giveUp := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				queued, kernelBacklog = kernelQueue(t, s.ln)
				most = max(most, queued)
				s.mu.Lock()
				hostQueued = len(s.queue)
				s.mu.Unlock()
				if (hostQueued == backlog && queued == backlog+1) || time.Now().After(giveUp) {
					break
				}
			}
			// And so it stays, past the clients' first SYN retransmission.
			for end := time.Now().Add(1200 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				q, _ := kernelQueue(t, s.ln)
				most = max(most, q)
			}
			if kernelBacklog != backlog || most > backlog+1 || hostQueued != backlog || queued < 1 {
				t.Errorf("kernel backlog %d, queued %d (at most %d), host queued %d; want backlog %d, at most %d queued by the kernel, %d by the host",
					kernelBacklog, queued, most, hostQueued, backlog, backlog+1, backlog)
			}
		})
	}
}

// TestBoundConnects: a bound socket that connects does so from its
// address, on each of the ways a connect runs (on the guest's wait alone,
// with a deadline, on a goroutine), and a bound socket dropped before its
// connect runs leaves nothing open.
func TestBoundConnects(t *testing.T) {
	st := listenStack(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	remote := ln.Addr().(*net.TCPAddr).AddrPort()
	before := countFDs(t)
	for _, how := range []string{"await", "deadline", "goroutine", "drop"} {
		s := mustSocket(t, st)
		local := bindLoopback(t, st, s)
		if err := s.StartConnect(bg, st.Network(), ToWIT(remote)); err != nil {
			t.Fatal(err)
		}
		switch how {
		case "await":
			s.Await(bg, time.Time{})
		case "deadline":
			for !s.Ready() {
				s.Await(bg, time.Now().Add(100*time.Millisecond))
			}
		case "goroutine":
			s.Start()
			wait(t, s)
		case "drop":
			s.Close()
			continue
		}
		r, err := s.FinishConnect(bg)
		if err != nil {
			t.Fatalf("%s: finish-connect: %v", how, err)
		}
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != local {
			t.Errorf("%s: connected from %v, bound to %v", how, got, local)
		}
		if la, err := s.LocalAddress(bg); err != nil || FromWIT(la) != local {
			t.Errorf("%s: local address %v, %v; want %v", how, FromWIT(la), err, local)
		}
		if on := keepAliveOn(t, s.tcpConn()); on {
			t.Errorf("%s: connection has keep-alive on, the guest has it off", how)
		}
		c.Close()
		r.F0.Drop()
		r.F1.Drop()
		s.Close()
	}
	noneLeft(t, before)
}

// TestListenAddressInUse: two sockets may bind one port while neither
// listens (SO_REUSEADDR, as on a native host); the second to listen fails
// at finish-listen with address-in-use and stays bound, and listens once
// the first is dropped. Nothing is left open.
func TestListenAddressInUse(t *testing.T) {
	st := listenStack(t)
	before := countFDs(t)
	s1 := mustSocket(t, st)
	ap := bindLoopback(t, st, s1)
	s2 := mustSocket(t, st)
	if err := s2.StartBind(bg, st.Network(), ToWIT(ap)); err != nil {
		t.Fatal(err)
	}
	if err := s2.FinishBind(bg); err != nil {
		t.Fatalf("second bind of a port nobody listens on: %v", err)
	}
	for _, s := range []*TCPSocket{s1, s2} {
		if err := s.StartListen(bg); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.FinishListen(bg); err != nil {
		t.Fatal(err)
	}
	if err := s2.FinishListen(bg); err != AddressInUse {
		t.Fatalf("second listen: %v, want address-in-use", err)
	}
	if la, err := s2.LocalAddress(bg); err != nil || FromWIT(la) != ap || s2.IsListening(bg) {
		t.Fatalf("after the failed listen: local address %v, %v, listening %v", FromWIT(la), err, s2.IsListening(bg))
	}
	s1.Close()
	if err := s2.StartListen(bg); err != nil {
		t.Fatal(err)
	}
	if err := s2.FinishListen(bg); err != nil {
		t.Fatalf("listen once the first is dropped: %v", err)
	}
	c, err := net.DialTimeout("tcp", ap.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s2.Close()
	noneLeft(t, before)
}

// TestListenBacklogUnsized: a listener whose guest never sized its
// backlog gets the largest the kernel allows (4,096 or
// net.core.somaxconn), as Go's net.Listen asks, while the host's accept
// queue keeps its default; a Go guest's server (guest/net sizes none)
// otherwise met a burst of clients with a kernel queue of 128.
func TestListenBacklogUnsized(t *testing.T) {
	st := listenStack(t)
	s := mustSocket(t, st)
	defer s.Close()
	bindLoopback(t, st, s)
	if err := s.StartListen(bg); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishListen(bg); err != nil {
		t.Fatal(err)
	}
	want := maxBacklog
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < want {
			want = n
		}
	}
	if _, backlog := kernelQueue(t, s.ln); backlog != want {
		t.Errorf("kernel backlog %d, want %d", backlog, want)
	}
	if s.backlog != defaultBacklog {
		t.Errorf("host accept queue bound %d, want %d", s.backlog, defaultBacklog)
	}
}
