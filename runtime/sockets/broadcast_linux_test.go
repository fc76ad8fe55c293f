package sockets

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestUDPNoBroadcast: a guest's UDP socket does not broadcast, so a UDP
// rule that allows a broadcast address (here Linux's loopback one,
// 127.255.255.255, as a rule for 192.168.1.128/25 allows 192.168.1.255)
// reaches no host beyond it: the send fails with access-denied, and a
// host socket bound to the broadcast address (as one bound to 0.0.0.0,
// reachable as 127.0.0.1, which no rule allows, would) receives nothing.
// Before, the socket had Go's SO_BROADCAST and the datagram arrived.
func TestUDPNoBroadcast(t *testing.T) {
	victim := hostUDP(t, net.IPv4(127, 255, 255, 255))
	to := netip.AddrPortFrom(netip.MustParseAddr("127.255.255.255"), victim.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	st := NewStack(udpPolicy(t, "127.255.255.255:*"))
	u := boundUDP(t, st)
	defer u.Drop()
	if err := sendDatagram(t, u, to, "all"); err != AccessDenied {
		t.Errorf("send to the broadcast address %v: %v, want access-denied", to, err)
	}
	victim.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, from, err := victim.ReadFromUDPAddrPort(make([]byte, 16)); err == nil {
		t.Fatalf("a host socket on %v received %d bytes from %v", to, n, from)
	}
}
