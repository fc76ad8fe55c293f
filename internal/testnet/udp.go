package testnet

import (
	"context"
	"net"
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
	return pc.LocalAddr().String()
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
