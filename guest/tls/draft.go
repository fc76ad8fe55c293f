//go:build wasip1

package wasitls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	wasinet "github.com/wasitls/wasitls/guest/net"
	"github.com/wasitls/wasitls/guest/wasi/tlsdraft"
)

// DraftConn is a client connection over the upstream draft interface
// wasi:tls/types@0.2.0-draft: SNI and the host's default validation, no
// further configuration. It implements net.Conn.
type DraftConn struct {
	transport net.Conn
	conn      tlsdraft.ClientConnection
	r         *wasinet.StreamReader
	w         *wasinet.StreamWriter
	mu        sync.Mutex
	closed    bool
	notified  bool
}

// ClientDraft runs a client handshake for serverName over conn (from
// package guest/net) with the upstream draft API, for guests that must run
// on hosts serving only that interface.
func ClientDraft(ctx context.Context, conn net.Conn, serverName string) (*DraftConn, error) {
	in, out, err := takeStreams(conn)
	if err != nil {
		return nil, err
	}
	f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(serverName, in, out))
	defer f.Drop()
	if err := await(ctx, f.Subscribe()); err != nil {
		return nil, err
	}
	c, cin, cout, _, err := f.Get()
	if err != nil {
		var he *tlsdraft.HandshakeError
		if errors.As(err, &he) {
			msg := he.Error()
			he.Drop()
			return nil, errors.New("wasitls: " + msg)
		}
		return nil, fmt.Errorf("wasitls: %w", err)
	}
	return &DraftConn{transport: conn, conn: c, r: wasinet.NewStreamReader(cin), w: wasinet.NewStreamWriter(cout)}, nil
}

// DialDraft connects to addr and runs ClientDraft with the host part of
// addr as the server name.
func DialDraft(ctx context.Context, network, addr string) (*DraftConn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	raw, err := (&wasinet.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c, err := ClientDraft(ctx, raw, host)
	if err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// Read reads cleartext.
func (c *DraftConn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &net.OpError{Op: "read", Net: "tls", Addr: c.RemoteAddr(), Err: err}
	}
	return n, err
}

// Write writes cleartext.
func (c *DraftConn) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	if err != nil {
		err = &net.OpError{Op: "write", Net: "tls", Addr: c.RemoteAddr(), Err: err}
	}
	return n, err
}

// CloseWrite flushes what was written and sends close_notify
// (close-output), with Conn.CloseWrite's bounds: not behind a Write in
// progress (it then fails with an error matching
// wasinet.ErrWriteInProgress, and may be called again), and not after a
// flush that failed or timed out.
func (c *DraftConn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	return c.closeNotifyLocked()
}

// closeNotifyLocked sends close_notify once. c.mu is held.
func (c *DraftConn) closeNotifyLocked() error {
	if c.notified {
		return nil
	}
	if err := flushForNotify(c.w); err != nil {
		c.notified = !errors.Is(err, wasinet.ErrWriteInProgress)
		return &net.OpError{Op: "close", Net: "tls", Addr: c.RemoteAddr(), Err: err}
	}
	c.notified = true
	c.conn.CloseOutput()
	return nil
}

// Close sends close_notify (see CloseWrite; a Write in progress is woken
// with net.ErrClosed), releases the TLS resources and closes the
// underlying connection. As with Conn.Close, it returns the error of
// close_notify's flush, if that failed: what was written may not have
// reached the peer.
func (c *DraftConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	err := c.closeNotifyLocked()
	if errors.Is(err, wasinet.ErrWriteInProgress) {
		err = nil // the Write is woken below
	}
	c.mu.Unlock()
	c.r.Close()
	c.w.Close()
	c.conn.Drop()
	if cerr := c.transport.Close(); err == nil {
		err = cerr
	}
	return err
}

// LocalAddr returns the underlying connection's local address.
func (c *DraftConn) LocalAddr() net.Addr { return c.transport.LocalAddr() }

// RemoteAddr returns the underlying connection's remote address.
func (c *DraftConn) RemoteAddr() net.Addr { return c.transport.RemoteAddr() }

// SetDeadline sets the read and write deadlines; after Close it returns
// net.ErrClosed (so do SetReadDeadline and SetWriteDeadline).
func (c *DraftConn) SetDeadline(t time.Time) error {
	c.r.SetDeadline(t)
	return c.w.SetDeadline(t)
}

// SetReadDeadline sets the read deadline.
func (c *DraftConn) SetReadDeadline(t time.Time) error { return c.r.SetDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (c *DraftConn) SetWriteDeadline(t time.Time) error { return c.w.SetDeadline(t) }
