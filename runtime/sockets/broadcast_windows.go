package sockets

import "syscall"

// noBroadcastFD turns SO_BROADCAST off on a socket.
func noBroadcastFD(fd uintptr) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 0)
}
