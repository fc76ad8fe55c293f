package sockets

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/udp"
	"github.com/wasitls/wasitls/cabi"
)

// TestUDPNoBroadcast: a guest's UDP socket does not broadcast, so a UDP
// rule that allows a broadcast address (here Linux's loopback one,
// 127.255.255.255, as a rule for 192.168.1.128/25 allows 192.168.1.255)
// reaches no host beyond it: the send fails with access-denied, and a
// host socket bound to the broadcast address (as one bound to 0.0.0.0,
// reachable as 127.0.0.1, which no rule allows, would) receives nothing.
// Before, the socket had Go's SO_BROADCAST and the datagram arrived.
func TestUDPNoBroadcast(t *testing.T) {
	ctx := context.Background()
	victim := hostUDP(t, net.IPv4(127, 255, 255, 255))
	to := netip.AddrPortFrom(netip.MustParseAddr("127.255.255.255"), victim.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	st := NewStack(udpPolicy(t, "127.255.255.255:*"))
	u := boundUDP(t, st)
	defer u.Drop()
	pair, err := u.Stream(ctx, cabi.None[network.IPSocketAddress]())
	if err != nil {
		t.Fatal(err)
	}
	defer pair.F0.Drop()
	defer pair.F1.Drop()
	pair.F1.CheckSend(ctx)
	if _, err := pair.F1.Send(ctx, []udp.OutgoingDatagram{{Data: []byte("all"), RemoteAddress: cabi.Some(ToWIT(to))}}); err != AccessDenied {
		t.Errorf("send to the broadcast address %v: %v, want access-denied", to, err)
	}
	victim.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, from, err := victim.ReadFromUDPAddrPort(make([]byte, 16)); err == nil {
		t.Fatalf("a host socket on %v received %d bytes from %v", to, n, from)
	}
}
