//go:build !unix

package sockets

import (
	"net"
	"net/netip"
	"syscall"
)

// sendOne sends one datagram to to. Where sockets cannot be written
// without the Go runtime's wait (off unix), it is Go's WriteTo, which on
// Windows completes once the system buffered the datagram.
func (u *UDPSocket) sendOne(c *net.UDPConn, raw syscall.RawConn, b []byte, to netip.AddrPort) error {
	_, err := c.WriteToUDPAddrPort(b, to)
	return err
}

// writable reports true: sends are not told a full buffer here.
func writable(raw syscall.RawConn) bool { return true }

// awaitWritable returns at once: sends are not told a full buffer here.
func awaitWritable(raw syscall.RawConn) error { return nil }
