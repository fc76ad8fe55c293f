//go:build !unix && !windows

package sockets

import "syscall"

// awaitDatagram returns at once where a socket cannot be waited on
// without a read: the read waits, with its buffer.
func awaitDatagram(rc syscall.RawConn) error { return nil }
