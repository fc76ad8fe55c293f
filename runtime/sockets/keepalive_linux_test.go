package sockets

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// kernelKeepAlive reads SO_KEEPALIVE and TCP_KEEPIDLE (seconds) of the
// host socket.
func kernelKeepAlive(t *testing.T, c syscall.Conn) (on bool, idle int) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr, ierr error
	rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		idle, ierr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
	})
	if gerr != nil || ierr != nil {
		t.Fatal(gerr, ierr)
	}
	return v != 0, idle
}

// acceptOne listens on a socket set up by setup, connects to it and
// returns the accepted socket.
func acceptOne(t *testing.T, setup func(s *TCPSocket)) *TCPSocket {
	t.Helper()
	var p Policy
	if err := p.AllowListen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	s := mustSocket(t, st)
	t.Cleanup(func() { s.Close() })
	setup(s)
	listenLoopback(t, st, s)
	wla, _ := s.LocalAddress(bg)
	c, err := net.Dial("tcp", FromWIT(wla).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	wait(t, s)
	tr, err := s.Accept(bg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.F1.Drop(); tr.F2.Drop(); tr.F0.Drop() })
	return tr.F0.(*TCPSocket)
}

// TestKeepAliveApplied: an accepted connection has keep-alive off unless
// the listener turned it on (neither the listener nor the host touch it
// then), and the settings reach the host socket when the guest turns it
// on, on the listener before the accept or on the connection after.
func TestKeepAliveApplied(t *testing.T) {
	a := acceptOne(t, func(*TCPSocket) {})
	if on, _ := kernelKeepAlive(t, a.tcpConn()); on {
		t.Error("accepted with the defaults: keep-alive is on, want off")
	}
	if err := a.SetKeepAliveIdleTime(bg, uint64(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := a.SetKeepAliveEnabled(bg, true); err != nil {
		t.Fatal(err)
	}
	if on, idle := kernelKeepAlive(t, a.tcpConn()); !on || idle != 30 {
		t.Errorf("turned on after the accept: keep-alive %v, idle %d s; want on, 30 s", on, idle)
	}

	b := acceptOne(t, func(s *TCPSocket) {
		if err := s.SetKeepAliveEnabled(bg, true); err != nil {
			t.Fatal(err)
		}
		if err := s.SetKeepAliveIdleTime(bg, uint64(40*time.Second)); err != nil {
			t.Fatal(err)
		}
	})
	if on, idle := kernelKeepAlive(t, b.tcpConn()); !on || idle != 40 {
		t.Errorf("turned on on the listener: keep-alive %v, idle %d s; want on, 40 s", on, idle)
	}
}
