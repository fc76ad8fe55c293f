package testnet

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// ServeUDP listens on UDP at 127.0.0.1 and, until the test ends, calls
// reply with each datagram it receives, sending back what reply returns
// (nil: nothing; a silent peer is a reply that always returns nil). The
// datagram is reply's only until it returns. ServeUDP returns the
// socket's address; the socket is closed when the test ends.
func ServeUDP(t testing.TB, reply func(datagram []byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	servePackets(t, pc, reply)
	return pc.LocalAddr().String()
}

// ServeUDPAndTCP is ServeUDP and ServeListener on one port of 127.0.0.1,
// as a DNS server that answers a truncated reply's retry over TCP needs:
// reply answers the datagrams, handle the connections. It returns the
// address both listen on.
func ServeUDPAndTCP(t testing.TB, reply func(datagram []byte) []byte, handle func(net.Conn)) string {
	t.Helper()
	pc, ln := listenUDPAndTCP(t, func() (net.PacketConn, error) { return net.ListenPacket("udp4", "127.0.0.1:0") })
	servePackets(t, pc, reply)
	ServeListener(t, ln, handle)
	return pc.LocalAddr().String()
}

// portAttempts bounds the ports listenUDPAndTCP tries.
const portAttempts = 20

// listenUDPAndTCP binds a UDP socket with listenUDP, then a TCP listener
// on its address. The system chooses UDP and TCP ports apart: the TCP
// half of a free UDP port may be taken, by another test's listener or by
// any loopback connection on the machine, one in TIME_WAIT included
// (most of a busy machine's), and binding it fails with "address already
// in use". Then it tries another UDP port, up to portAttempts in all.
func listenUDPAndTCP(t testing.TB, listenUDP func() (net.PacketConn, error)) (net.PacketConn, net.Listener) {
	t.Helper()
	var err error
	for range portAttempts {
		var pc net.PacketConn
		if pc, err = listenUDP(); err != nil {
			t.Fatal(err)
		}
		var ln net.Listener
		ln, err = net.Listen("tcp4", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	t.Fatalf("no port of 127.0.0.1 free for both UDP and TCP: %v", err)
	return nil, nil
}

// servePackets answers the datagrams of pc with reply until the test
// ends, then closes pc.
func servePackets(t testing.TB, pc net.PacketConn, reply func(datagram []byte) []byte) {
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if msg := reply(buf[:n]); msg != nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
}

// Resolver is a Go resolver that sends every query to the DNS server at
// addr (over UDP, or TCP when it retries a truncated answer), whatever
// the system's configuration.
func Resolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// SilentResolver is Resolver for a DNS server at addr that never answers:
// it asks over UDP only, on NoDeadlineConns, so that a lookup ends only
// when its connection is closed, never at the resolver's own timeout.
func SilentResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", addr)
		if err != nil {
			return nil, err
		}
		return NoDeadlineConn{c.(*net.UDPConn)}, nil
	}}
}

// NoDeadlineConn is a DNS connection whose reads have no deadline: a
// query over it ends only when its connection is closed.
type NoDeadlineConn struct{ *net.UDPConn }

// SetDeadline does nothing.
func (NoDeadlineConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline does nothing.
func (NoDeadlineConn) SetReadDeadline(time.Time) error { return nil }
