//go:build !windows

package sockets

import "syscall"

// errMsgSize is the error a send of a datagram larger than the socket
// carries fails with.
const errMsgSize = syscall.EMSGSIZE

// datagramTooLarge reports whether a read's error says only that its
// datagram did not fit the buffer. Here none does: a larger datagram is
// truncated to the buffer, one byte past the limit, and so dropped.
func datagramTooLarge(err error) bool { return false }
