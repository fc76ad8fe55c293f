//go:build wasip1

package wasinet

import (
	"errors"
	goio "io"
	"net"
	"sync"
	"time"

	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/sockets"
)

// closeFlushTimeout bounds how long Close waits for written data to be
// flushed when no write deadline is set.
const closeFlushTimeout = 5 * time.Second

// Conn is a TCP connection over a wasi:sockets tcp-socket. It implements
// net.Conn; Read and Write may be called from different goroutines.
//
// The streams' reader and writer are part of the Conn, and its addresses
// are kept as the host reported them and made *net.TCPAddr on first use:
// a connection whose streams move to a TLS connection at once allocates
// the Conn alone.
type Conn struct {
	sock   sockets.TCPSocket
	r      StreamReader
	w      StreamWriter
	mu     sync.Mutex
	closed bool
	taken  bool

	addrMu       sync.Mutex
	local        sockets.IPSocketAddress
	remote       sockets.IPSocketAddress
	hasLocal     bool
	hasRemote    bool
	laddr, raddr *net.TCPAddr // made from local and remote on first use
}

// newConn wraps a connected socket. local and remote are its addresses
// when the caller knows them (a listener's own specific address, the
// address a dial connected to), nil to ask the host.
func newConn(sock sockets.TCPSocket, in io.InputStream, out io.OutputStream, local, remote *sockets.IPSocketAddress) *Conn {
	c := &Conn{sock: sock}
	c.r.s, c.w.s = in, out
	if local != nil {
		c.local, c.hasLocal = *local, true
	} else if a, err := sock.LocalAddress(); err == nil {
		c.local, c.hasLocal = a, true
	}
	if remote != nil {
		c.remote, c.hasRemote = *remote, true
	} else if a, err := sock.RemoteAddress(); err == nil {
		c.remote, c.hasRemote = a, true
	}
	return c
}

// addrs returns the connection's addresses as *net.TCPAddr (nil where the
// host reported none), making them on first use.
func (c *Conn) addrs() (laddr, raddr *net.TCPAddr) {
	c.addrMu.Lock()
	defer c.addrMu.Unlock()
	if c.laddr == nil && c.hasLocal {
		c.laddr = tcpAddr(c.local)
	}
	if c.raddr == nil && c.hasRemote {
		c.raddr = tcpAddr(c.remote)
	}
	return c.laddr, c.raddr
}

func (c *Conn) opErr(op string, err error) error {
	if err == nil || err == goio.EOF {
		return err
	}
	laddr, raddr := c.addrs()
	return &net.OpError{Op: op, Net: "tcp", Source: laddr, Addr: raddr, Err: err}
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err != nil {
		// opErr is not inlined: a call of the guest's per Read.
		err = c.opErr("read", err)
	}
	return n, err
}

// Write implements net.Conn.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	if err != nil {
		err = c.opErr("write", err)
	}
	return n, err
}

// Close flushes what was written (bounded by the write deadline, or five
// seconds; not at all while another goroutine is in Write, which Close
// then breaks), wakes pending operations with net.ErrClosed, and drops the
// streams and the socket.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.closed = true
	taken := c.taken
	c.mu.Unlock()
	if !taken {
		c.w.FlushTimeout(closeFlushTimeout)
		c.r.Close()
		c.w.Close()
	}
	c.sock.Drop()
	return nil
}

// CloseWrite flushes and shuts down the sending side: the peer reads EOF.
func (c *Conn) CloseWrite() error {
	if err := c.w.Flush(); err != nil {
		return c.opErr("close", err)
	}
	return c.shutdown(sockets.ShutdownSend)
}

// CloseRead shuts down the receiving side.
func (c *Conn) CloseRead() error {
	return c.shutdown(sockets.ShutdownReceive)
}

// shutdown shuts down how of the socket, unless Close ran: its socket
// handle is then dropped, and may already name another resource of the
// guest. c.mu, held across the host call, keeps Close from marking c
// closed (and dropping the socket) meanwhile.
func (c *Conn) shutdown(how sockets.ShutdownType) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("close", net.ErrClosed)
	}
	return c.opErr("close", c.sock.Shutdown(how))
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr {
	laddr, _ := c.addrs()
	return laddr
}

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr {
	_, raddr := c.addrs()
	return raddr
}

// SetDeadline implements net.Conn; after Close it returns an error
// matching net.ErrClosed, as package net's connections do.
func (c *Conn) SetDeadline(t time.Time) error {
	return c.setDeadline(t, &c.r.dl, &c.w.dl)
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.setDeadline(t, &c.r.dl) }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, &c.w.dl) }

// setDeadline sets each of dls to t, or fails with net.ErrClosed after
// Close. Streams taken (TakeStreams) ignore the deadline, as before.
func (c *Conn) setDeadline(t time.Time, dls ...*deadline) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return c.opErr("set", net.ErrClosed)
	}
	for _, d := range dls {
		d.set(t)
	}
	return nil
}

// Socket returns the underlying tcp-socket, still owned by c (for its
// options), or net.ErrClosed once Close ran: Close drops the handle, whose
// number a later resource of the guest may then get. The handle must not
// be used once Close was called.
func (c *Conn) Socket() (sockets.TCPSocket, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, c.opErr("socket", net.ErrClosed)
	}
	return c.sock, nil
}

// ErrStreamsTaken is returned by TakeStreams the second time.
var ErrStreamsTaken = errors.New("wasinet: streams already taken")

// TakeStreams flushes pending output and hands the raw streams to the
// caller, who then owns them (to pass them to a wasi:tls connection, for
// example). Afterwards Read and Write fail with net.ErrClosed; Close only
// drops the socket, which must happen after the new owner dropped the
// streams.
func (c *Conn) TakeStreams() (io.InputStream, io.OutputStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, 0, net.ErrClosed
	}
	if c.taken {
		return 0, 0, ErrStreamsTaken
	}
	c.taken = true
	return c.r.Detach(), c.w.Detach(), nil
}

func tcpAddr(a sockets.IPSocketAddress) *net.TCPAddr {
	ap := a.AddrPort()
	ta := net.TCPAddrFromAddrPort(ap)
	if a.Family == sockets.IPv6 && a.ScopeID != 0 {
		ta.Zone = itoa(a.ScopeID)
	}
	return ta
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
