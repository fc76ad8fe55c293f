//go:build unix

package sockets

import "syscall"

// noBroadcastFD turns SO_BROADCAST off on a socket.
func noBroadcastFD(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 0)
}
