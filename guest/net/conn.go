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
type Conn struct {
	sock   sockets.TCPSocket
	r      *StreamReader
	w      *StreamWriter
	laddr  *net.TCPAddr
	raddr  *net.TCPAddr
	mu     sync.Mutex
	closed bool
	taken  bool
}

func newConn(sock sockets.TCPSocket, in io.InputStream, out io.OutputStream) *Conn {
	c := &Conn{sock: sock, r: NewStreamReader(in), w: NewStreamWriter(out)}
	if a, err := sock.LocalAddress(); err == nil {
		c.laddr = tcpAddr(a)
	}
	if a, err := sock.RemoteAddress(); err == nil {
		c.raddr = tcpAddr(a)
	}
	return c
}

func (c *Conn) opErr(op string, err error) error {
	if err == nil || err == goio.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	return n, c.opErr("read", err)
}

// Write implements net.Conn.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	return n, c.opErr("write", err)
}

// Close flushes what was written (bounded by the write deadline, or five
// seconds), wakes pending operations with net.ErrClosed, and drops the
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
	return c.opErr("close", c.sock.Shutdown(sockets.ShutdownSend))
}

// CloseRead shuts down the receiving side.
func (c *Conn) CloseRead() error {
	return c.opErr("close", c.sock.Shutdown(sockets.ShutdownReceive))
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.r.SetDeadline(t)
	c.w.SetDeadline(t)
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.r.SetDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.w.SetDeadline(t) }

// Socket returns the underlying tcp-socket, still owned by c.
func (c *Conn) Socket() sockets.TCPSocket { return c.sock }

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
