//go:build unix

package sockets

import (
	"context"
	"net/netip"
	"syscall"
	"testing"
)

// kernelHopLimit reads IP_TTL or IPV6_UNICAST_HOPS of the host socket.
func kernelHopLimit(t *testing.T, c syscall.Conn, family Family) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) {
		if family == IPv4 {
			v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL)
		} else {
			v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS)
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// TestUDPHopLimitApplied: set-unicast-hop-limit reaches the host socket,
// set before the bind (applied when it binds) and after it (applied at
// once), for both families.
func TestUDPHopLimitApplied(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		family Family
		addr   string
	}{{IPv4, "127.0.0.1:0"}, {IPv6, "[::1]:0"}} {
		s := NewStack(udpPolicy(t, "127.0.0.1:*", "[::1]:*"))
		u, err := s.NewUDPSocket(c.family)
		if err != nil {
			t.Fatal(err)
		}
		if err := u.SetUnicastHopLimit(ctx, 0); err != InvalidArgument {
			t.Errorf("%s: hop limit 0: %v, want invalid-argument", c.family, err)
		}
		if err := u.SetUnicastHopLimit(ctx, 7); err != nil {
			t.Fatal(err)
		}
		if err := u.StartBind(ctx, s.Network(), ToWIT(netip.MustParseAddrPort(c.addr))); err != nil {
			t.Fatal(err)
		}
		if err := u.FinishBind(ctx); err != nil {
			t.Fatal(err)
		}
		if got := kernelHopLimit(t, u.conn, c.family); got != 7 {
			t.Errorf("%s: hop limit set before bind: kernel has %d, want 7", c.family, got)
		}
		if err := u.SetUnicastHopLimit(ctx, 200); err != nil {
			t.Fatal(err)
		}
		if got := kernelHopLimit(t, u.conn, c.family); got != 200 {
			t.Errorf("%s: hop limit set when bound: kernel has %d, want 200", c.family, got)
		}
		if got, _ := u.UnicastHopLimit(ctx); got != 200 {
			t.Errorf("%s: unicast-hop-limit reports %d, want 200", c.family, got)
		}
		u.Drop()
	}
}
