//go:build unix

package wasiio

import (
	"errors"
	"sync"
	"syscall"
)

// A rawOp is one non-blocking read or write of a socket's descriptor.
// syscall.RawConn takes a func; a closure over the caller's variables
// would be allocated, with them, on every read and write, so rawOps are
// pooled with their funcs bound once.
type rawOp struct {
	p     []byte
	n     int
	err   error
	read  func(fd uintptr) bool
	write func(fd uintptr) bool
}

var rawOps = sync.Pool{New: func() any {
	o := &rawOp{}
	o.read = o.readFD
	o.write = o.writeFD
	return o
}}

func getRawOp(p []byte) *rawOp {
	o := rawOps.Get().(*rawOp)
	o.p, o.n, o.err = p, 0, nil
	return o
}

// done returns the op's result and the op to its pool.
func (o *rawOp) done() (int, error) {
	n, err := o.n, o.err
	o.p, o.err = nil, nil
	rawOps.Put(o)
	return n, err
}

func (o *rawOp) readFD(fd uintptr) bool {
	for {
		o.n, o.err = syscall.Read(int(fd), o.p)
		if o.err != syscall.EINTR {
			return true
		}
	}
}

func (o *rawOp) writeFD(fd uintptr) bool {
	for o.n < len(o.p) {
		n, e := syscall.Write(int(fd), o.p[o.n:])
		if n > 0 {
			o.n += n
		}
		switch {
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			return true
		case e != nil:
			o.err = e
			return true
		}
	}
	return true
}

// readNow reads what the socket behind raw has, without blocking: it
// returns ErrWouldBlock when there is nothing yet.
func readNow(raw syscall.RawConn, p []byte) (int, error) {
	o := getRawOp(p)
	cerr := raw.Read(o.read)
	n, err := o.done()
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
	o := getRawOp(p)
	cerr := raw.Write(o.write)
	total, err := o.done()
	if cerr != nil {
		return total, cerr
	}
	return total, err
}

// nonblockingCapable reports whether raw I/O above is available.
const nonblockingCapable = true
