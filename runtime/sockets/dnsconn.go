package sockets

import (
	"fmt"
	"net"
	"runtime/debug"
	"time"

	"github.com/wasitls/wasitls/internal/safelog"
)

// The connection a resolver's Dial returns is the embedder's code too,
// and Go's resolver uses it on a goroutine of its own, where nothing
// could recover a panic of its methods, nor of the resolver's slicing of
// its buffer by a count Read returns outside it. lookupResolver hands
// the resolver each connection guarded (dnsConn): a panic of a method is
// the failure of that call (a *DialPanicError naming the method, logged
// as a panic of Dial is), a count outside the buffer that of the Read,
// and a Dial answering neither a connection nor an error fails as a
// Dial does.

// errNilConn is the failure of a Dial that returned no connection and no
// error.
var errNilConn = fmt.Errorf("sockets: the resolver's Dial returned no connection and no error")

// dnsConn is a connection of a resolver's Dial, guarded.
type dnsConn struct {
	c        net.Conn
	panicked func(err error, stack []byte)
}

// guardConn returns c guarded, a net.PacketConn when c is one (Go's
// resolver speaks DNS over UDP to a PacketConn, over TCP otherwise).
func guardConn(c net.Conn, panicked func(err error, stack []byte)) net.Conn {
	g := &dnsConn{c: c, panicked: panicked}
	if pc, ok := c.(net.PacketConn); ok {
		return &dnsPacketConn{dnsConn: g, pc: pc}
	}
	return g
}

// catch is deferred around a call of the connection's method: it
// recovers a panic into *err.
func (g *dnsConn) catch(method string, err *error) {
	if v := recover(); v != nil {
		e := &DialPanicError{Value: safelog.PanicValue(v), Method: method}
		*err = e
		g.panicked(e, debug.Stack())
	}
}

func (g *dnsConn) Read(p []byte) (n int, err error) {
	defer g.catch("Read", &err)
	if n, err = g.c.Read(p); n < 0 || n > len(p) {
		return 0, fmt.Errorf("sockets: the resolver's connection read %d bytes into a buffer of %d", n, len(p))
	}
	return n, err
}

func (g *dnsConn) Write(p []byte) (n int, err error) {
	defer g.catch("Write", &err)
	if n, err = g.c.Write(p); n < 0 || n > len(p) {
		return 0, fmt.Errorf("sockets: the resolver's connection wrote %d bytes of %d", n, len(p))
	}
	return n, err
}

func (g *dnsConn) Close() (err error) {
	defer g.catch("Close", &err)
	return g.c.Close()
}

func (g *dnsConn) SetDeadline(t time.Time) (err error) {
	defer g.catch("SetDeadline", &err)
	return g.c.SetDeadline(t)
}

func (g *dnsConn) SetReadDeadline(t time.Time) (err error) {
	defer g.catch("SetReadDeadline", &err)
	return g.c.SetReadDeadline(t)
}

func (g *dnsConn) SetWriteDeadline(t time.Time) (err error) {
	defer g.catch("SetWriteDeadline", &err)
	return g.c.SetWriteDeadline(t)
}

func (g *dnsConn) LocalAddr() (a net.Addr) {
	var err error
	defer g.catch("LocalAddr", &err)
	return g.c.LocalAddr()
}

func (g *dnsConn) RemoteAddr() (a net.Addr) {
	var err error
	defer g.catch("RemoteAddr", &err)
	return g.c.RemoteAddr()
}

// dnsPacketConn is a dnsConn over a net.PacketConn.
type dnsPacketConn struct {
	*dnsConn
	pc net.PacketConn
}

func (g *dnsPacketConn) ReadFrom(p []byte) (n int, addr net.Addr, err error) {
	defer g.catch("ReadFrom", &err)
	if n, addr, err = g.pc.ReadFrom(p); n < 0 || n > len(p) {
		return 0, addr, fmt.Errorf("sockets: the resolver's connection read %d bytes into a buffer of %d", n, len(p))
	}
	return n, addr, err
}

func (g *dnsPacketConn) WriteTo(p []byte, addr net.Addr) (n int, err error) {
	defer g.catch("WriteTo", &err)
	if n, err = g.pc.WriteTo(p, addr); n < 0 || n > len(p) {
		return 0, fmt.Errorf("sockets: the resolver's connection wrote %d bytes of %d", n, len(p))
	}
	return n, err
}
