package sockets

import (
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// fullListener listens on loopback with an accept queue that one
// connection fills: the kernel drops the SYNs of the connects after it
// (their connect goes on, retransmitting, until the queue has room). It
// returns the address and a function that accepts everything queued.
func fullListener(t *testing.T) (netip.AddrPort, func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port))
	for range 4 { // until a connect does not get through
		c, err := net.DialTimeout("tcp4", ap.String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	drain := func() {
		syscall.SetNonblock(fd, true)
		for {
			nfd, _, err := syscall.Accept(fd)
			if err != nil {
				return
			}
			t.Cleanup(func() { syscall.Close(nfd) })
		}
	}
	return ap, drain
}

// A wait with a deadline leaves a connect that is not over in progress at
// its deadline, within a bound, and the next wait takes it up: against a
// loopback listener whose accept queue is full, waits of 50 ms each end
// unconnected, and once the queue has room (the SYN is retransmitted after
// a second) a wait connects. A socket dropped while its connect is left in
// progress, or while it is waited for on a goroutine, leaks nothing.
func TestConnectAcrossWaits(t *testing.T) {
	ap, drain := fullListener(t)
	var p Policy
	if err := p.AllowConnect(ap.String()); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	start := func(t *testing.T) *TCPSocket {
		t.Helper()
		s := mustSocket(t, st)
		t.Cleanup(func() { s.Close() })
		if err := s.StartConnect(bg, st.Network(), ToWIT(ap)); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			deadline := time.Now().Add(50 * time.Millisecond)
			if !s.Await(bg, deadline) {
				t.Fatal("Await did not wait for the connect")
			}
			// Late by less than the SYN's retransmission (a second),
			// which a wait ignoring its deadline would have waited for;
			// a loaded machine's scheduling delays reach 100 ms.
			if late := time.Since(deadline); late > 500*time.Millisecond {
				t.Fatalf("the wait returned %v after its deadline", late)
			}
			if s.Ready() {
				t.Fatal("connected to a listener whose queue is full")
			}
		}
		return s
	}
	t.Run("dropped", func(t *testing.T) {
		checkNoGoroutineLeak(t)
		start(t).Close()
	})
	t.Run("dropped-on-goroutine", func(t *testing.T) {
		checkNoGoroutineLeak(t)
		s := start(t)
		s.Start() // another look: the goroutine waits for it
		s.Close()
	})
	t.Run("connects", func(t *testing.T) {
		s := start(t)
		drain()
		for begin := time.Now(); !s.Ready(); {
			if time.Since(begin) > 10*time.Second {
				t.Fatal("not connected once the queue had room")
			}
			s.Await(bg, time.Now().Add(50*time.Millisecond))
		}
		if _, err := s.FinishConnect(bg); err != nil {
			t.Fatal(err)
		}
		// The connection has the socket's options (keep-alive off by
		// default), not those net.FileConn gives it.
		rc, err := s.tcpConn().SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var keepAlive int
		rc.Control(func(fd uintptr) {
			keepAlive, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		})
		if err != nil || keepAlive != 0 {
			t.Fatalf("SO_KEEPALIVE %d, %v; want 0", keepAlive, err)
		}
		// Turned off with SO_KEEPALIVE alone, net's idle time stays on
		// the socket: turning keep-alive on applies the guest's.
		if err := s.SetKeepAliveIdleTime(bg, uint64(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetKeepAliveEnabled(bg, true); err != nil {
			t.Fatal(err)
		}
		if on, idle := kernelKeepAlive(t, s.tcpConn()); !on || idle != 30 {
			t.Errorf("turned on after the connect: keep-alive %v, idle %d s; want on, 30 s", on, idle)
		}
	})
}

// TestKeepAliveRawConnect: a connect that a wait with a deadline took up
// (a rawConnect, whose connection net.FileConn gives keep-alive on) gets
// the guest's keep-alive, on with its settings when it asked for it before
// the connect. The socket is bound first: a wait with a deadline dials an
// unbound socket whose connect is over at once with the dialer
// (TestConnectAtOnce), and a bound socket connects from itself, always a
// rawConnect.
func TestKeepAliveRawConnect(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case accepted <- c:
			default:
				c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(accepted)
		for c := range accepted {
			c.Close()
		}
	})
	ap := netip.MustParseAddrPort(ln.Addr().String())
	st := listenStack(t)
	connect := func(t *testing.T, setup func(s *TCPSocket)) *TCPSocket {
		t.Helper()
		s := mustSocket(t, st)
		t.Cleanup(func() { s.Close() })
		bindLoopback(t, st, s)
		setup(s)
		if err := s.StartConnect(bg, st.Network(), ToWIT(ap)); err != nil {
			t.Fatal(err)
		}
		for begin := time.Now(); !s.Ready(); {
			if time.Since(begin) > 10*time.Second {
				t.Fatal("not connected")
			}
			if !s.Await(bg, time.Now().Add(50*time.Millisecond)) {
				t.Fatal("Await did not wait for the connect")
			}
		}
		if !s.dialRaw {
			t.Fatal("the connect was not taken up by the wait with a deadline")
		}
		if _, err := s.FinishConnect(bg); err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("off", func(t *testing.T) {
		s := connect(t, func(*TCPSocket) {})
		if on, _ := kernelKeepAlive(t, s.tcpConn()); on {
			t.Error("keep-alive is on, want off (the WASI default)")
		}
	})
	t.Run("on", func(t *testing.T) {
		s := connect(t, func(s *TCPSocket) {
			if err := s.SetKeepAliveEnabled(bg, true); err != nil {
				t.Fatal(err)
			}
			if err := s.SetKeepAliveIdleTime(bg, uint64(40*time.Second)); err != nil {
				t.Fatal(err)
			}
		})
		if on, idle := kernelKeepAlive(t, s.tcpConn()); !on || idle != 40 {
			t.Errorf("keep-alive %v, idle %d s; want on, 40 s", on, idle)
		}
	})
}

// TestConnectAtOnce: a wait with a deadline whose connect is over as soon
// as it starts (a loopback listener with room) dials with the dialer, on
// the wait, without a rawConnect's duplicate descriptor and its keep-alive
// (net.FileConn turns it on): the connection has keep-alive off without
// finish-connect turning it off. A connect that is refused fails the wait's
// dial with connection-refused.
func TestConnectAtOnce(t *testing.T) {
	ap := netip.MustParseAddrPort(acceptingListener(t).Addr().String())
	st := listenStack(t)
	s := mustSocket(t, st)
	defer s.Close()
	if err := s.StartConnect(bg, st.Network(), ToWIT(ap)); err != nil {
		t.Fatal(err)
	}
	if !s.Await(bg, time.Now().Add(time.Minute)) || !s.Ready() {
		t.Fatal("the wait did not connect")
	}
	if s.dialRaw {
		t.Error("a connect over at once was taken up as a rawConnect")
	}
	if _, err := s.FinishConnect(bg); err != nil {
		t.Fatal(err)
	}
	if on, _ := kernelKeepAlive(t, s.tcpConn()); on {
		t.Error("keep-alive is on, want off (the WASI default)")
	}

	refused := mustSocket(t, st)
	defer refused.Close()
	closed, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAP := netip.MustParseAddrPort(closed.Addr().String())
	closed.Close()
	if err := refused.StartConnect(bg, st.Network(), ToWIT(closedAP)); err != nil {
		t.Fatal(err)
	}
	for begin := time.Now(); !refused.Ready(); {
		if time.Since(begin) > 10*time.Second {
			t.Fatal("the refused connect did not end")
		}
		refused.Await(bg, time.Now().Add(50*time.Millisecond))
	}
	if _, err := refused.FinishConnect(bg); err != ConnectionRefused {
		t.Errorf("finish-connect: %v, want connection-refused", err)
	}
}

// checkNoGoroutineLeak fails t unless the goroutines it started are gone
// once it ends (its cleanups, registered later, run first).
func checkNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		waitFor(t, "the test's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	})
}
