package tlshost_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// sentHello is what a client put in its first ClientHello, in its order.
type sentHello struct {
	cipherSuites, groups, keyShares, versions []uint16
}

// parseClientHello reads the first ClientHello from the records in b
// (RFC 8446, Sections 4.1.2 and 5.1).
func parseClientHello(b []byte) (*sentHello, error) {
	var msg []byte
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if b[0] != 22 || len(b) < 5+n {
			return nil, errors.New("not a handshake record")
		}
		msg = append(msg, b[5:5+n]...)
		b = b[5+n:]
		if len(msg) >= 4 && len(msg) >= 4+int(msg[1])<<16|int(msg[2])<<8|int(msg[3]) {
			break
		}
	}
	if len(msg) < 4 || msg[0] != 1 {
		return nil, errors.New("no ClientHello")
	}
	r := &reader{b: msg[4:]}
	r.skip(2 + 32)
	r.skip(int(r.u8()))
	h := &sentHello{cipherSuites: r.u16list(int(r.u16()))}
	r.skip(int(r.u8()))
	exts := &reader{b: r.bytes(int(r.u16()))}
	for len(exts.b) >= 4 && exts.err == nil {
		typ := exts.u16()
		ext := &reader{b: exts.bytes(int(exts.u16()))}
		switch typ {
		case 10: // supported_groups
			h.groups = ext.u16list(int(ext.u16()))
		case 43: // supported_versions
			h.versions = ext.u16list(int(ext.u8()))
		case 51: // key_share
			shares := &reader{b: ext.bytes(int(ext.u16()))}
			for len(shares.b) > 0 && shares.err == nil {
				h.keyShares = append(h.keyShares, shares.u16())
				shares.skip(int(shares.u16()))
			}
		}
	}
	if r.err != nil || exts.err != nil {
		return nil, errors.New("truncated ClientHello")
	}
	return h, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = io.ErrUnexpectedEOF
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) skip(n int) { r.bytes(n) }

func (r *reader) u8() uint8 {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u16list(n int) []uint16 {
	b := r.bytes(n)
	out := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		out = append(out, binary.BigEndian.Uint16(b[i:]))
	}
	return out
}

// recordingConn keeps what was read through it.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if c.buf.Len() < 1<<16 {
		c.buf.Write(p[:n])
	}
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) recorded() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

// peerResult is what a Go peer saw of one connection.
type peerResult struct {
	hello    *sentHello // the ClientHello (server peers only)
	recorded []byte     // what the peer read: the client's side of the connection
	state    tls.ConnectionState
	err      error
}

// goServerPeer serves one TLS connection at a time with cfg on loopback
// and reports each: the ClientHello as sent and what was negotiated.
func goServerPeer(t *testing.T, cfg *tls.Config) (port string, results chan peerResult) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	results = make(chan peerResult, 4)
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			rc := &recordingConn{Conn: raw}
			c := tls.Server(rc, cfg)
			err = c.Handshake()
			res := peerResult{state: c.ConnectionState(), err: err}
			if h, herr := parseClientHello(rc.recorded()); herr == nil {
				res.hello = h
			}
			if err == nil {
				io.Copy(io.Discard, c) // until the guest's close_notify
			}
			res.recorded = rc.recorded()
			c.Close()
			results <- res
		}
	}()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, results
}
