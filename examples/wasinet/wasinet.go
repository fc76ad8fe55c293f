//go:build wasip1

// Package wasinet is the little TCP plumbing the example guests share, on
// the raw wasi:sockets bindings: resolve and connect, listen and accept,
// wait on a pollable, read a stream to its end. Each call blocks the whole
// guest, which is what a single-connection example wants.
package wasinet

import (
	"errors"
	"fmt"
	"net/netip"

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

// Listen binds 127.0.0.1:port (0 picks a free port) and listens. It returns
// the socket and the port it is bound to.
func Listen(port uint16) (sockets.TCPSocket, uint16, error) {
	sock, err := sockets.CreateTCPSocket(sockets.IPv4)
	if err != nil {
		return 0, 0, err
	}
	net := sockets.InstanceNetwork()
	defer net.Drop()
	local := sockets.SocketAddressFrom(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), sockets.IPv4)
	if err := sock.StartBind(net, local); err != nil {
		sock.Drop()
		return 0, 0, fmt.Errorf("bind: %w", err)
	}
	if err := finish(sock, sock.FinishBind); err != nil {
		sock.Drop()
		return 0, 0, fmt.Errorf("bind: %w", err)
	}
	if err := sock.StartListen(); err != nil {
		sock.Drop()
		return 0, 0, fmt.Errorf("listen: %w", err)
	}
	if err := finish(sock, sock.FinishListen); err != nil {
		sock.Drop()
		return 0, 0, fmt.Errorf("listen: %w", err)
	}
	addr, err := sock.LocalAddress()
	if err != nil {
		sock.Drop()
		return 0, 0, err
	}
	return sock, addr.Port, nil
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
