//go:build !linux

package sockets

import (
	"context"
	"net"
	"net/netip"
)

// A boundTCP is a bound TCP socket. Here (bind_linux.go binds without
// listening) it is a listener from start-bind on, as net.Listen makes it:
// peers complete handshakes with it before start-listen, queued in a
// backlog of the system's size, not the guest's, and a connect from it
// closes it and dials from its address.
type boundTCP struct {
	ln   *net.TCPListener
	addr *net.TCPAddr
}

const (
	bindRaw      = false
	fileListener = false
)

func bindTCP(family Family, local netip.AddrPort) (*boundTCP, error) {
	// Accepted connections keep the system's keep-alive settings (off)
	// until applyOptions: net's default (on, 15 s) would cost four
	// system calls per accept that applyOptions undoes with four more.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), tcpNetwork(family), local.String())
	if err != nil {
		return nil, err
	}
	tl := ln.(*net.TCPListener)
	return &boundTCP{ln: tl, addr: tl.Addr().(*net.TCPAddr)}, nil
}

func (b *boundTCP) listen(int) (*net.TCPListener, bool, error) {
	ln := b.ln
	b.ln = nil
	return ln, true, nil
}

func (b *boundTCP) close() {
	if b.ln != nil {
		b.ln.Close()
		b.ln = nil
	}
}

// relisten: the backlog of a listener of net.Listen is the system's.
func relisten(*net.TCPListener, int) {}
