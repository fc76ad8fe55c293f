//go:build windows

package sockets

import "syscall"

// awaitDatagram waits until the socket has a datagram to read (or an
// error to report), without reading it: the Go runtime's RawConn.Read
// waits for a socket to be readable with a read of zero bytes, a peek
// for a datagram socket (WSARecv with MSG_PEEK, whose WSAEMSGSIZE it
// takes for readiness), and then calls the function again. The function
// asks for that wait once; the caller then reads the datagram whole, as
// on unix, so that an idle socket holds no buffer.
func awaitDatagram(rc syscall.RawConn) error {
	waited := false
	return rc.Read(func(uintptr) bool {
		if waited {
			return true
		}
		waited = true
		return false
	})
}
