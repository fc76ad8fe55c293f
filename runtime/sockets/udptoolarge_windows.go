package sockets

import (
	"errors"
	"syscall"
)

// wsaeMsgSize is WSAEMSGSIZE, which a read of a datagram larger than its
// buffer fails with on Windows (other systems truncate it and say so only
// in the flags).
const wsaeMsgSize = syscall.Errno(10040)

// errMsgSize is the error a send of a datagram larger than the socket
// carries fails with: on Windows WSAEMSGSIZE, which Go's syscall.EMSGSIZE
// (a value of its own there) is not.
const errMsgSize = wsaeMsgSize

// datagramTooLarge reports whether a read's error says only that its
// datagram did not fit the buffer: that datagram is dropped as too large,
// and the socket reads on.
func datagramTooLarge(err error) bool { return errors.Is(err, wsaeMsgSize) }
