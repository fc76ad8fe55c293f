package stdtls

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

// sizedConn is a transport whose Read fills whatever it is given (the
// bytes are not looked at) and whose counter records what it is told.
type sizedConn struct {
	net.Conn
	t     *testing.T
	limit int64
	held  int64
}

func (c *sizedConn) Read(p []byte) (int, error) { return len(p), nil }

func (c *sizedConn) HoldPeerBacklog(n int64) error {
	if n < 0 || n > maxBacklogHeld || n != 0 && n <= freeBacklog {
		c.t.Fatalf("counter told of %d bytes", n)
	}
	if n > c.limit {
		return errors.New("test counter: over its limit")
	}
	c.held = n
	return nil
}

// FuzzTransportBacklog drives the transport's accounting with reads of
// sizes the fuzzer chooses, data coming out of Read between them, and
// the handshake's end, against a model: the handshake fails past
// maxHandshakeBytes read; after it, the backlog (what was read since
// data last came out) fails past maxPostHandshakeBytes, and the counter
// is told of it past freeBacklog, up to maxBacklogHeld, and of 0 once
// data comes.
func FuzzTransportBacklog(f *testing.F) {
	f.Add([]byte{1, 40, 40, 0, 200, 200, 2, 200, 2}, uint16(4096))
	f.Add([]byte{0, 16, 1, 16, 16}, uint16(0xffff)) // 64 KiB, freeBacklog, read exactly
	f.Add([]byte{0, 1, 255, 255, 255, 255, 255, 255, 255, 255}, uint16(0xffff))
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 1}, uint16(0xffff))
	// 17 reads of 1020 KiB: past maxPostHandshakeBytes.
	f.Add(append([]byte{0}, bytes.Repeat([]byte{255}, 17)...), uint16(0xffff))
	buf := make([]byte, 255<<12)
	f.Fuzz(func(t *testing.T, ops []byte, limitKiB uint16) {
		c := &sizedConn{t: t, limit: int64(limitKiB) << 10}
		tr := &transport{Conn: c}
		tr.counter.SetCounter(c)
		var handshake, backlog, want int64
		for _, op := range ops {
			switch op {
			case 0: // the handshake completes
				tr.established.Store(true)
			case 1: // data came out of Read
				tr.dataRead()
				backlog, want = 0, 0
			default: // a read of op×4 KiB
				n := int64(op) << 12
				_, err := tr.Read(buf[:n])
				if !tr.established.Load() {
					handshake += n
					if (handshake > maxHandshakeBytes) != (err == errHandshakeBytes) {
						t.Fatalf("handshake read %d bytes: %v", handshake, err)
					}
					if err != nil {
						return
					}
					continue
				}
				backlog += n
				if backlog > maxPostHandshakeBytes {
					if err != errPostHandshakeBytes {
						t.Fatalf("backlog of %d bytes: %v", backlog, err)
					}
					return
				}
				told := int64(0)
				if backlog > freeBacklog {
					told = min(backlog, maxBacklogHeld)
				}
				if told > c.limit {
					if err == nil {
						t.Fatalf("backlog of %d bytes over the counter's limit: no error", backlog)
					}
					return
				}
				if err != nil {
					t.Fatalf("backlog of %d bytes: %v", backlog, err)
				}
				if told != 0 {
					want = told
				}
			}
			if c.held != want {
				t.Fatalf("counter holds %d, want %d", c.held, want)
			}
		}
	})
}
