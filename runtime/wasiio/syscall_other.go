//go:build !unix

package wasiio

import (
	"errors"
	"syscall"
)

var errNoNonblocking = errors.New("wasiio: non-blocking socket I/O is not implemented on this platform")

func readNow(syscall.RawConn, []byte) (int, error)  { return 0, errNoNonblocking }
func writeNow(syscall.RawConn, []byte) (int, error) { return 0, errNoNonblocking }

// nonblockingCapable reports whether raw I/O is available: transports on
// this platform hand writes to a goroutine instead.
const nonblockingCapable = false
