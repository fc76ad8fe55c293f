//go:build wasip1

// Package wasinet is the little TCP plumbing the example guests share, on
// the raw wasi:sockets bindings: resolve and connect, listen and accept,
// wait on a pollable, read a stream to its end or for a while. Each call
// blocks the whole guest, which is what a single-connection example wants.
package wasinet

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/wasitls/wasitls/guest/wasi/clocks"
	wio "github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/sockets"
)

// Await blocks until p is ready, then drops it.
func Await(p wio.Pollable) {
	p.Block()
	p.Drop()
}

// Resolve returns the first address of host.
func Resolve(host string) (netip.Addr, error) {
	net := sockets.InstanceNetwork()
	defer net.Drop()
	rs, err := sockets.ResolveAddresses(net, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", host, err)
	}
	defer rs.Drop()
	for {
		a, ok, err := rs.ResolveNextAddress()
		switch {
		case errors.Is(err, sockets.ErrorWouldBlock):
			Await(rs.Subscribe())
		case err != nil:
			return netip.Addr{}, fmt.Errorf("resolve %s: %w", host, err)
		case !ok:
			return netip.Addr{}, fmt.Errorf("resolve %s: no addresses", host)
		default:
			return a.Addr(), nil
		}
	}
}

// Dial resolves host and connects to port. The streams are children of the
// socket: drop them (or hand them to a TLS connection) before the socket.
func Dial(host string, port uint16) (sockets.TCPSocket, wio.InputStream, wio.OutputStream, error) {
	addr, err := Resolve(host)
	if err != nil {
		return 0, 0, 0, err
	}
	family := sockets.IPv4
	if addr.Is6() && !addr.Is4In6() {
		family = sockets.IPv6
	}
	sock, err := sockets.CreateTCPSocket(family)
	if err != nil {
		return 0, 0, 0, err
	}
	net := sockets.InstanceNetwork()
	defer net.Drop()
	if err := sock.StartConnect(net, sockets.SocketAddressFrom(netip.AddrPortFrom(addr, port), family)); err != nil {
		sock.Drop()
		return 0, 0, 0, fmt.Errorf("connect %s:%d: %w", host, port, err)
	}
	for {
		in, out, err := sock.FinishConnect()
		switch {
		case errors.Is(err, sockets.ErrorWouldBlock):
			Await(sock.Subscribe())
		case err != nil:
			sock.Drop()
			return 0, 0, 0, fmt.Errorf("connect %s:%d: %w", host, port, err)
		default:
			return sock, in, out, nil
		}
	}
}

// Listen binds addr, [HOST:]PORT, and listens. HOST is an IP address
// (127.0.0.1 when left out; 0.0.0.0 or [::] for every interface, and an
// empty HOST, as in ":443", for every IPv4 interface); PORT 0 picks a free
// port. It returns the socket and the address it is bound to.
func Listen(addr string) (sockets.TCPSocket, netip.AddrPort, error) {
	ap, err := parseListenAddr(addr)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	family := sockets.IPv4
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		family = sockets.IPv6
	}
	sock, err := sockets.CreateTCPSocket(family)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	net := sockets.InstanceNetwork()
	defer net.Drop()
	fail := func(what string, err error) (sockets.TCPSocket, netip.AddrPort, error) {
		sock.Drop()
		return 0, netip.AddrPort{}, fmt.Errorf("%s %s: %w", what, ap, err)
	}
	if err := sock.StartBind(net, sockets.SocketAddressFrom(ap, family)); err != nil {
		return fail("bind", err)
	}
	if err := finish(sock, sock.FinishBind); err != nil {
		return fail("bind", err)
	}
	if err := sock.StartListen(); err != nil {
		return fail("listen", err)
	}
	if err := finish(sock, sock.FinishListen); err != nil {
		return fail("listen", err)
	}
	bound, err := sock.LocalAddress()
	if err != nil {
		return fail("listen", err)
	}
	return sock, netip.AddrPortFrom(ap.Addr(), bound.Port), nil
}

// parseListenAddr parses [HOST:]PORT.
func parseListenAddr(addr string) (netip.AddrPort, error) {
	host, port := "127.0.0.1", addr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host, port = addr[:i], addr[i+1:]
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: want [HOST:]PORT", addr)
	}
	ip := netip.IPv4Unspecified()
	if host != "" {
		if ip, err = netip.ParseAddr(strings.Trim(host, "[]")); err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q: HOST must be an IP address", addr)
		}
	}
	return netip.AddrPortFrom(ip, uint16(p)), nil
}

func finish(sock sockets.TCPSocket, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, sockets.ErrorWouldBlock) {
			return err
		}
		Await(sock.Subscribe())
	}
}

// Accept waits for the next connection.
func Accept(ln sockets.TCPSocket) (sockets.TCPSocket, wio.InputStream, wio.OutputStream, error) {
	for {
		s, in, out, err := ln.Accept()
		if errors.Is(err, sockets.ErrorWouldBlock) {
			Await(ln.Subscribe())
			continue
		}
		return s, in, out, err
	}
}

// ReadAll reads in until the peer closes it. A close without TLS
// close_notify is an error (truncation), returned with what was read.
func ReadAll(in wio.InputStream) ([]byte, error) {
	var all []byte
	for {
		b, err := in.BlockingRead(64 << 10)
		all = append(all, b...)
		var se *wio.StreamError
		if errors.As(err, &se) {
			defer se.Drop()
			if se.Closed {
				return all, nil
			}
			return all, errors.New(se.Error())
		}
		if err != nil {
			return all, err
		}
	}
}

// ReadSome blocks until some bytes arrived and returns them.
func ReadSome(in wio.InputStream) ([]byte, error) {
	b, err := in.BlockingRead(64 << 10)
	var se *wio.StreamError
	if errors.As(err, &se) {
		defer se.Drop()
		return b, errors.New(se.Error())
	}
	return b, err
}

// ReadSomeWithin is ReadSome for at most d: it waits on the stream and a
// clock at once, and gives up when the clock is ready first.
func ReadSomeWithin(in wio.InputStream, d time.Duration) ([]byte, error) {
	data := in.Subscribe()
	defer data.Drop()
	timer := clocks.SubscribeDuration(clocks.Duration(d))
	defer timer.Drop()
	if ready := wio.Poll([]wio.Pollable{data, timer}); len(ready) == 1 && ready[0] == 1 {
		return nil, fmt.Errorf("no request within %v", d)
	}
	return ReadSome(in)
}
