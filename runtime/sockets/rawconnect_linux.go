package sockets

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// A rawConnect is a non-blocking connect(2) in progress, which any
// goroutine can wait for, a while at a time, and which survives a wait that
// ends at its deadline; net.Dialer cannot give that (a dial's deadline ends
// the connect). It dials as the zero net.Dialer of dial does: a TCP socket
// of the family (IPV6_V6ONLY on IPv6), or the socket start-bind bound, with
// TCP_NODELAY once connected. It costs about a dozen system calls more
// than a dial (the descriptor is registered with the netpoller twice, as
// a file while connecting and as a connection, and duplicated between).
type rawConnect struct {
	f  *os.File
	rc syscall.RawConn

	mu          sync.Mutex
	interrupted bool
}

// startRawConnect creates the socket, or takes the bound socket b's
// (which it closes on failure), and starts the connect.
func startRawConnect(family Family, b *boundTCP, remote netip.AddrPort) (*rawConnect, error) {
	var fd int
	if b != nil {
		fd = b.take()
	} else {
		var err error
		if fd, err = newTCPFD(family); err != nil {
			return nil, err
		}
	}
	fail := func(call string, err error) (*rawConnect, error) {
		syscall.Close(fd)
		return nil, os.NewSyscallError(call, err)
	}
	switch err := syscall.Connect(fd, sockaddr(family, remote)); err {
	case nil, syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
	default:
		return fail("connect", err)
	}
	f := os.NewFile(uintptr(fd), "tcp") // non-blocking: in the netpoller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawConnect{f: f, rc: rc}, nil
}

func sockaddr(family Family, ap netip.AddrPort) syscall.Sockaddr {
	if family == IPv6 {
		return &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
}

// wait waits until the connect is over, deadline (zero: none) passes, or
// interrupt is called. Over, it returns the connection or the connect's
// error with done set, and the rawConnect is spent; otherwise the connect
// goes on and a later wait takes it up.
func (c *rawConnect) wait(deadline time.Time) (conn net.Conn, err error, done bool) {
	c.mu.Lock()
	if c.interrupted {
		c.mu.Unlock()
		return nil, nil, false
	}
	c.f.SetWriteDeadline(deadline)
	c.mu.Unlock()
	var soErr error
	werr := c.rc.Write(func(fd uintptr) bool {
		v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
		if err != nil {
			soErr = os.NewSyscallError("getsockopt", err)
			return true
		}
		if v != 0 {
			soErr = os.NewSyscallError("connect", syscall.Errno(v))
			return true
		}
		_, err = syscall.Getpeername(int(fd))
		return err == nil // ENOTCONN: still connecting
	})
	if errors.Is(werr, os.ErrDeadlineExceeded) {
		return nil, nil, false // the deadline or an interruption
	}
	if werr != nil {
		c.f.Close()
		return nil, werr, true
	}
	if soErr != nil {
		c.f.Close()
		return nil, soErr, true
	}
	// A duplicate of the descriptor, with TCP_NODELAY and keep-alive on;
	// finish-connect sets the guest's keep-alive (applyOptions, not
	// applyNewOptions, for such a connection).
	conn, err = net.FileConn(c.f)
	c.f.Close()
	if err != nil {
		return nil, err, true
	}
	return conn, nil, true
}

// interrupt ends a wait in progress, and every later one, without
// completing them.
func (c *rawConnect) interrupt() {
	c.mu.Lock()
	c.interrupted = true
	c.f.SetWriteDeadline(time.Unix(1, 0))
	c.mu.Unlock()
}

// close abandons the connect.
func (c *rawConnect) close() { c.f.Close() }
