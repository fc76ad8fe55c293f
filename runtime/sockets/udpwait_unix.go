//go:build unix

package sockets

import (
	"os"
	"syscall"
)

// awaitDatagram waits until the socket has a datagram to read (or an
// error to report), without reading it: a peek of one byte, on a socket
// the Go runtime made non-blocking, and its netpoller's wait when there
// is nothing. The caller then reads the datagram whole.
func awaitDatagram(rc syscall.RawConn) error {
	var serr error
	err := rc.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			_, _, e := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			case nil:
			default:
				serr = os.NewSyscallError("recvfrom", e)
			}
			return true
		}
	})
	if err != nil {
		return err
	}
	return serr
}
