package sockets

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
	return newRawConnect(fd)
}

// newRawConnect is the rawConnect of fd, a non-blocking socket whose
// connect has started.
func newRawConnect(fd int) (*rawConnect, error) {
	f := os.NewFile(uintptr(fd), "tcp") // non-blocking: in the netpoller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawConnect{f: f, rc: rc}, nil
}

// errLeftInProgress ends a dial of connectAtOnce whose connect goes on
// as a rawConnect.
var errLeftInProgress = errors.New("sockets: the connect goes on")

// connectAtOnce dials remote with d, on the caller's goroutine, as dial
// does, when its connect is over once connect(2) returns, as a loopback
// connect to a listener with room in its accept queue is: the connection
// is then the dialer's own, without a rawConnect's duplicate descriptor,
// its second registration with the netpoller and net.FileConn's
// keep-alive. Otherwise it returns the connect, in progress, as a
// rawConnect of a duplicate of the dialer's descriptor (the dialer closes
// its own), which waits take up as they take up startRawConnect's. It
// does not wait: d's own connect, made only once the connect is over,
// returns at once (0 for a connect the kernel had in progress, EISCONN
// for one it had completed).
//
// The dialer must bind nothing (no LocalAddr): it binds after the
// connect that ControlContext starts.
func connectAtOnce(ctx context.Context, d net.Dialer, family Family, remote netip.AddrPort) (net.Conn, *rawConnect, error) {
	var raw *rawConnect
	d.KeepAlive = -1
	d.ControlContext = func(_ context.Context, _, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { raw, err = connectOrKeep(int(fd), family, remote) }); cerr != nil {
			return cerr
		}
		if err == nil && raw != nil {
			return errLeftInProgress
		}
		return err
	}
	conn, err := d.DialContext(ctx, tcpNetwork(family), remote.String())
	if raw != nil {
		return nil, raw, nil // err is errLeftInProgress
	}
	return conn, nil, err
}

// connectOrKeep starts the connect of the dialer's socket fd, before the
// dialer's own connect: nothing (and no error) when the connect is over,
// its error when it failed, otherwise a rawConnect of a duplicate of fd,
// which the connect goes on on.
func connectOrKeep(fd int, family Family, remote netip.AddrPort) (*rawConnect, error) {
	switch err := syscall.Connect(fd, sockaddr(family, remote)); err {
	case nil:
		return nil, nil
	case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
	default:
		return nil, os.NewSyscallError("connect", err)
	}
	if over, err := connectOver(fd); over || err != nil {
		return nil, err
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	return newRawConnect(dup)
}

// connectOver reports whether the connect of fd is over, with its error
// if it failed.
func connectOver(fd int) (bool, error) {
	v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil {
		return true, os.NewSyscallError("getsockopt", err)
	}
	if v != 0 {
		return true, os.NewSyscallError("connect", syscall.Errno(v))
	}
	_, err = syscall.Getpeername(fd)
	return err == nil, nil // ENOTCONN: still connecting
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
		var over bool
		over, soErr = connectOver(int(fd))
		return over
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
