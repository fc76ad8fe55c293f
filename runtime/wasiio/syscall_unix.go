//go:build unix

package wasiio

import (
	"errors"
	"syscall"
)

// readNow reads what the socket behind raw has, without blocking: it
// returns ErrWouldBlock when there is nothing yet.
func readNow(raw syscall.RawConn, p []byte) (int, error) {
	var n int
	var err error
	cerr := raw.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), p)
			if err != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case cerr != nil:
		return 0, cerr
	case errors.Is(err, syscall.EAGAIN):
		return 0, ErrWouldBlock
	case err != nil:
		return 0, err
	case n == 0 && len(p) > 0:
		return 0, errEOF
	}
	return n, nil
}

// writeNow writes as much of p as the socket behind raw takes without
// blocking and returns how much that was.
func writeNow(raw syscall.RawConn, p []byte) (int, error) {
	total := 0
	var err error
	cerr := raw.Write(func(fd uintptr) bool {
		for total < len(p) {
			n, e := syscall.Write(int(fd), p[total:])
			if n > 0 {
				total += n
			}
			switch {
			case e == syscall.EINTR:
			case e == syscall.EAGAIN:
				return true
			case e != nil:
				err = e
				return true
			}
		}
		return true
	})
	if cerr != nil {
		return total, cerr
	}
	return total, err
}

// nonblockingCapable reports whether raw I/O above is available.
const nonblockingCapable = true
