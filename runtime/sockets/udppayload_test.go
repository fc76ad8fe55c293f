//go:build linux || windows

// macOS and the BSDs may bound a datagram sent lower by default (macOS's
// net.inet.udp.maxdgram is 9,216 bytes): 65,507 bytes need not go there.

package sockets

import (
	"net"
	"net/netip"
	"testing"
)

// TestUDPPayloadPastIPv4: under a datagram limit of 65,535 bytes (the
// most the runtime allows), a send over IPv4 of more than the 65,507
// bytes an IPv4 datagram carries fails with datagram-too-large, as WASI
// says, and 65,507 bytes go. On Windows the kernel's refusal is
// WSAEMSGSIZE, not syscall.EMSGSIZE.
func TestUDPPayloadPastIPv4(t *testing.T) {
	s := NewStack(udpPolicy(t, "127.0.0.1:*"))
	s.SetUDPLimits(65535, 0)
	peer := hostUDP(t, net.IPv4(127, 0, 0, 1))
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	u := boundUDP(t, s)
	defer u.Drop()
	if err := sendDatagram(t, u, to, string(make([]byte, 65507))); err != nil {
		t.Errorf("send of 65,507 bytes: %v", err)
	}
	for _, n := range []int{65508, 65535} {
		if err := sendDatagram(t, u, to, string(make([]byte, n))); err != DatagramTooLarge {
			t.Errorf("send of %d bytes over IPv4: %v, want %v", n, err, DatagramTooLarge)
		}
	}
}
