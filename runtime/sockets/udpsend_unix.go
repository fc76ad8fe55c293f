//go:build unix

package sockets

import (
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendOne sends one datagram to to without waiting: errSendBufferFull
// when the socket's send buffer has no room for it now. It is a
// sendto(2) on the socket the Go runtime made non-blocking, which returns
// EAGAIN then; Go's own WriteTo would wait for room instead, without
// bound.
func (u *UDPSocket) sendOne(c *net.UDPConn, raw syscall.RawConn, b []byte, to netip.AddrPort) error {
	var sa syscall.Sockaddr
	if u.sendAddr != nil {
		sa = u.sendAddr(to)
	} else if to.Addr().Is4() {
		sa = &syscall.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().As4()}
	} else {
		sa = &syscall.SockaddrInet6{Port: int(to.Port()), Addr: to.Addr().As16()}
	}
	var serr error
	err := raw.Write(func(fd uintptr) bool {
		for {
			serr = syscall.Sendto(int(fd), b, 0, sa)
			if serr != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return err
	case serr == syscall.EAGAIN || serr == syscall.EWOULDBLOCK:
		return errSendBufferFull
	case serr != nil:
		return os.NewSyscallError("sendto", serr)
	}
	return nil
}

// writableFD reports whether the socket's send buffer has room for a
// datagram (or the socket has an error to report, which the send then
// returns).
func writableFD(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || n > 0
	}
}

// writable reports whether a send would find room now.
func writable(raw syscall.RawConn) bool {
	ok := true
	if err := raw.Control(func(fd uintptr) { ok = writableFD(fd) }); err != nil {
		return true // closed: the send reports it
	}
	return ok
}

// awaitWritable waits, on the Go runtime's netpoller, until a send would
// find room, the socket is closed or its write deadline passes.
func awaitWritable(raw syscall.RawConn) error {
	return raw.Write(writableFD)
}
