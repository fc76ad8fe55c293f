package sockets

import "syscall"

// setHopLimitFD sets the unicast hop limit (IPv4 TTL) of a socket.
func setHopLimitFD(fd uintptr, family Family, v uint8) error {
	if family == IPv4 {
		return syscall.SetsockoptInt(syscall.Handle(fd), syscall.IPPROTO_IP, syscall.IP_TTL, int(v))
	}
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, int(v))
}
