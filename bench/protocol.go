package bench

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/wasitls/wasitls/bench/internal/protocol"
)

// The bulk and echo protocol is package protocol's; the server times each
// command from sending it to its completion (the last byte read, the
// acknowledgement, the last echo).
const (
	opUpload   = protocol.OpUpload
	opDownload = protocol.OpDownload
	opEcho     = protocol.OpEcho
	opQuit     = protocol.OpQuit
)

// A driver is the server end of one established connection.
type driver struct {
	conn *tls.Conn
	buf  []byte
}

// commandTimeout bounds one command, so that a stalled client fails the
// measurement instead of hanging it: a minute plus 1 MB/s.
func commandTimeout(n uint64) time.Duration {
	return time.Minute + time.Duration(n/1e6)*time.Second
}

func (d *driver) send(op byte, n uint64, w int) error {
	timeout := commandTimeout(n)
	if op == opEcho {
		timeout = commandTimeout(n * 1000) // a millisecond a round trip
	}
	if err := d.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	hdr := protocol.Header(op, n, w)
	_, err := d.conn.Write(hdr[:])
	return err
}

// upload has the client send n bytes in writes of w and returns the time
// until the last one arrived.
func (d *driver) upload(n uint64, w int) (time.Duration, error) {
	start := time.Now()
	if err := d.send(opUpload, n, w); err != nil {
		return 0, err
	}
	for left := n; left > 0; {
		k := min(uint64(len(d.buf)), left)
		got, err := d.conn.Read(d.buf[:k])
		if err != nil {
			return 0, fmt.Errorf("bench: upload: %w", err)
		}
		left -= uint64(got)
	}
	return time.Since(start), nil
}

// download sends n bytes in writes of w and returns the time until the
// client acknowledged the last one.
func (d *driver) download(n uint64, w int) (time.Duration, error) {
	if len(d.buf) < w {
		d.buf = make([]byte, w)
	}
	start := time.Now()
	if err := d.send(opDownload, n, w); err != nil {
		return 0, err
	}
	for left := n; left > 0; {
		k := min(uint64(w), left)
		if _, err := d.conn.Write(d.buf[:k]); err != nil {
			return 0, fmt.Errorf("bench: download: %w", err)
		}
		left -= k
	}
	if _, err := io.ReadFull(d.conn, d.buf[:1]); err != nil {
		return 0, fmt.Errorf("bench: download ack: %w", err)
	}
	return time.Since(start), nil
}

// echo has the client make n one-byte round trips and returns their time.
func (d *driver) echo(n int) (time.Duration, error) {
	start := time.Now()
	if err := d.send(opEcho, uint64(n), 1); err != nil {
		return 0, err
	}
	b := d.buf[:1]
	for range n {
		if _, err := io.ReadFull(d.conn, b); err != nil {
			return 0, fmt.Errorf("bench: echo: %w", err)
		}
		if _, err := d.conn.Write(b); err != nil {
			return 0, fmt.Errorf("bench: echo: %w", err)
		}
	}
	return time.Since(start), nil
}

func (d *driver) quit() error {
	err := d.send(opQuit, 0, 0)
	d.conn.Close()
	return err
}

// runClient is the native client's side of the protocol, the same loop as
// the guest's.
func runClient(c net.Conn) error {
	defer c.Close()
	if err := protocol.Obey(c); err != nil {
		return fmt.Errorf("bench: client: %w", err)
	}
	return nil
}

// serverConfig is the native server's configuration: TLS 1.3, the bench
// certificate, one group, no session tickets (so every handshake is full,
// as with the stdtls backend's servers).
func (e *env) serverConfig(group tls.CurveID) *tls.Config {
	return &tls.Config{
		Certificates:           []tls.Certificate{e.cert},
		MinVersion:             tls.VersionTLS13,
		CurvePreferences:       []tls.CurveID{group},
		SessionTicketsDisabled: true,
	}
}

// clientConfig is the native client's configuration.
func (e *env) clientConfig(group tls.CurveID) *tls.Config {
	return &tls.Config{
		ServerName:       serverName,
		RootCAs:          e.roots,
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{group},
	}
}

// serverConfigOrTCP is serverConfig, or nil for group 0: plain TCP.
func (e *env) serverConfigOrTCP(group tls.CurveID) *tls.Config {
	if group == 0 {
		return nil
	}
	return e.serverConfig(group)
}

// clientConfigOrTCP is clientConfig, or nil for group 0: plain TCP.
func (e *env) clientConfigOrTCP(group tls.CurveID) *tls.Config {
	if group == 0 {
		return nil
	}
	return e.clientConfig(group)
}

// listenTLS listens on a fresh loopback port.
func listenTLS(cfg *tls.Config) (net.Listener, error) {
	return tls.Listen("tcp4", "127.0.0.1:0", cfg)
}

// acceptDriver accepts one connection on ln, completes its handshake and
// returns the driver for it.
func acceptDriver(ln net.Listener, timeout time.Duration) (*driver, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		tc := r.c.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(timeout))
		if err := tc.Handshake(); err != nil {
			tc.Close()
			return nil, err
		}
		tc.SetDeadline(time.Time{})
		return &driver{conn: tc, buf: make([]byte, 64<<10)}, nil
	case <-time.After(timeout):
		ln.Close()
		<-ch
		return nil, errors.New("bench: no client connected")
	}
}
