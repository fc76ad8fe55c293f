package sockets

import (
	"net/netip"

	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/cabi"
)

// FromWIT converts a WIT ip-socket-address. Flow info and scope id of
// IPv6 addresses are not used by this host: the address has no zone, so a
// link-local one names no interface, and binding or connecting to it
// fails with invalid-argument.
func FromWIT(a network.IPSocketAddress) netip.AddrPort {
	if a.Tag == network.IPSocketAddressTagIPv4 {
		v := a.IPv4.Address
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{v.F0, v.F1, v.F2, v.F3}), a.IPv4.Port)
	}
	v := a.IPv6.Address
	var b [16]byte
	for i, w := range [8]uint16{v.F0, v.F1, v.F2, v.F3, v.F4, v.F5, v.F6, v.F7} {
		b[2*i], b[2*i+1] = byte(w>>8), byte(w)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(b), a.IPv6.Port)
}

// ToWIT converts an address and port to a WIT ip-socket-address.
func ToWIT(ap netip.AddrPort) network.IPSocketAddress {
	ip := ap.Addr()
	if ip.Is4() {
		return network.IPSocketAddressIPv4(network.IPv4SocketAddress{Port: ap.Port(), Address: ipv4(ip)})
	}
	return network.IPSocketAddressIPv6(network.IPv6SocketAddress{Port: ap.Port(), Address: ipv6(ip)})
}

// AddrToWIT converts an address to a WIT ip-address.
func AddrToWIT(ip netip.Addr) network.IPAddress {
	if ip.Is4() {
		return network.IPAddressIPv4(ipv4(ip))
	}
	return network.IPAddressIPv6(ipv6(ip))
}

func ipv4(ip netip.Addr) network.IPv4Address {
	b := ip.As4()
	return cabi.Tuple4[uint8, uint8, uint8, uint8]{F0: b[0], F1: b[1], F2: b[2], F3: b[3]}
}

func ipv6(ip netip.Addr) network.IPv6Address {
	b := ip.As16()
	w := func(i int) uint16 { return uint16(b[2*i])<<8 | uint16(b[2*i+1]) }
	return cabi.Tuple8[uint16, uint16, uint16, uint16, uint16, uint16, uint16, uint16]{
		F0: w(0), F1: w(1), F2: w(2), F3: w(3), F4: w(4), F5: w(5), F6: w(6), F7: w(7),
	}
}
