package sockets

import (
	"context"
	"net/netip"
	"syscall"
	"testing"
)

// sockoptInt reads an SOL_SOCKET option of u's bound socket.
func sockoptInt(t *testing.T, u *UDPSocket, opt int) int {
	t.Helper()
	rc, err := u.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return v
}

// TestUDPBuffersBeforeBind: the receive and send buffer sizes a guest
// sets on a UDP socket before binding it, as a C program's setsockopt
// does, are the bound socket's (Linux reports twice the size set, its
// bookkeeping included). Before, they were kept and reported back by
// receive-buffer-size and send-buffer-size but never applied: the socket
// had the system's default buffers.
func TestUDPBuffersBeforeBind(t *testing.T) {
	const size = 16 << 10 // below the system's defaults (212,992 bytes), above its floors
	ctx := context.Background()
	s := NewStack(udpPolicy(t, "127.0.0.1:*"))
	u, err := s.NewUDPSocket(IPv4)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Drop()
	if err := u.SetReceiveBufferSize(ctx, size); err != nil {
		t.Fatal(err)
	}
	if err := u.SetSendBufferSize(ctx, size); err != nil {
		t.Fatal(err)
	}
	if err := u.StartBind(ctx, s.Network(), ToWIT(netip.MustParseAddrPort("127.0.0.1:0"))); err != nil {
		t.Fatal(err)
	}
	if err := u.FinishBind(ctx); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		name string
		opt  int
	}{{"receive", syscall.SO_RCVBUF}, {"send", syscall.SO_SNDBUF}} {
		if got := sockoptInt(t, u, o.opt); got != 2*size {
			t.Errorf("%s buffer of %d bytes set before bind: the bound socket's is %d", o.name, size, got/2)
		}
	}
}
