package sockets

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// A boundTCP is a TCP socket bound and not listening: start-bind made it
// with socket(2) and bind(2), so that the kernel sees what the guest
// asked for: no peer completes a handshake with it (connects are refused)
// until start-listen calls listen(2) with the guest's backlog. Its
// descriptor is non-blocking and in no netpoller until it listens (a
// net.TCPListener) or connects (a rawConnect).
type boundTCP struct {
	fd   int
	addr *net.TCPAddr // the address bound, its port resolved
}

// bindRaw: the bound socket is the one a connect from it uses.
const bindRaw = true

// fileListener: a listener's accepted connections come from a
// net.FileListener, which gives them keep-alive on with net's settings
// (applyRawOptions, not applyNewOptions): five setsockopt(2) calls an
// accept of a net.ListenConfig listener with keep-alive -1 does not make,
// some 2 µs (the accept alone took 1.45 times as long, alternating with
// such a listener's, medians over 2,000 accepts each on loopback).
const fileListener = true

// newTCPFD makes a non-blocking TCP socket of family, IPv6 only for IPv6,
// as Go's "tcp6" sockets are.
func newTCPFD(family Family) (int, error) {
	domain := syscall.AF_INET
	if family == IPv6 {
		domain = syscall.AF_INET6
	}
	fd, err := syscall.Socket(domain, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if family == IPv6 {
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1); err != nil {
			syscall.Close(fd)
			return -1, os.NewSyscallError("setsockopt", err)
		}
	}
	return fd, nil
}

// bindTCP binds a new socket of family to local, with SO_REUSEADDR as Go
// sets it on its listeners (a port left in TIME_WAIT can be bound again;
// a port some socket listens on cannot).
func bindTCP(family Family, local netip.AddrPort) (*boundTCP, error) {
	fd, err := newTCPFD(family)
	if err != nil {
		return nil, err
	}
	fail := func(call string, err error) (*boundTCP, error) {
		syscall.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: tcpNetwork(family), Addr: net.TCPAddrFromAddrPort(local), Err: os.NewSyscallError(call, err)}
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := syscall.Bind(fd, sockaddr(family, local)); err != nil {
		return fail("bind", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	var ap netip.AddrPort
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *syscall.SockaddrInet6:
		ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	default:
		return fail("getsockname", syscall.EAFNOSUPPORT)
	}
	return &boundTCP{fd: fd, addr: net.TCPAddrFromAddrPort(ap)}, nil
}

// listen is listen(2) with backlog. The socket then belongs to the
// listener, whatever the outcome but a failed listen(2), after which b is
// still bound; listened reports which.
func (b *boundTCP) listen(backlog int) (ln *net.TCPListener, listened bool, err error) {
	if err := syscall.Listen(b.fd, backlog); err != nil {
		return nil, false, &net.OpError{Op: "listen", Net: "tcp", Addr: b.addr, Err: os.NewSyscallError("listen", err)}
	}
	// net.FileListener takes a duplicate of the descriptor; the original
	// goes with f.
	f := os.NewFile(uintptr(b.fd), "tcp")
	b.fd = -1
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, true, err
	}
	tl, ok := l.(*net.TCPListener)
	if !ok {
		l.Close()
		return nil, true, errors.New("sockets: not a TCP listener")
	}
	return tl, true, nil
}

// take hands the descriptor over to its caller (a connect from it).
func (b *boundTCP) take() int {
	fd := b.fd
	b.fd = -1
	return fd
}

func (b *boundTCP) close() {
	if b.fd >= 0 {
		syscall.Close(b.fd)
		b.fd = -1
	}
}

// relisten changes a listening socket's kernel backlog: listen(2) again,
// which Linux allows.
func relisten(ln *net.TCPListener, backlog int) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { syscall.Listen(int(fd), backlog) })
}
