package circlpq

import (
	"errors"
	"io"
	"sync"
)

// Record buffers.
//
// A connection holds a record buffer only while it has a record in hand,
// so that an idle one (the state a server keeps thousands of connections
// in) costs little more than its keys:
//
//   - Reading starts in smallIn, a few hundred bytes inside the Conn, which
//     takes whole small records (the 23 bytes of a one-byte write) and the
//     header of larger ones. A record that does not fit moves, with the
//     bytes read ahead, to a buffer from rawInPool, large enough for the
//     largest record and most of the next, once smallIn is full. That
//     buffer goes back to the pool as soon as every byte in it was
//     consumed: when Read hands out the last byte of the data it
//     decrypted, or, at the latest, before the next transport Read, which
//     moves leftover bytes that fit back to smallIn. A partial record keeps
//     its buffer, since a transport timeout must not lose it (see
//     Conn.Read), the pooled one only once more than smallInLen bytes of
//     the record are in: a peer that stalls inside a record makes a
//     connection hold the pooled buffer (33 KiB) only after sending more
//     than 512 bytes of it.
//   - Each call that sends records takes a buffer from outBufPool for
//     sealing one record at a time and returns it before returning, as
//     crypto/tls does. The handshake's flights collect in sendBuf, which
//     is dropped once sent.
//
// Pooled buffers never carry bytes from one connection to another: a read
// buffer is only ever read up to what the transport wrote into it, a write
// buffer only up to what was sealed into it.

const (
	// smallInLen is the size of the read buffer inside every Conn.
	smallInLen = 512

	// rawInLen is the size of a pooled read buffer: the largest protected
	// record (RFC 8446, Section 5.2) and as much of the next one, so a busy
	// reader takes in about two records per transport Read.
	rawInLen = 2 * (recordHeaderLen + maxCiphertext)

	// aeadMaxOverhead is the tag length of every TLS 1.3 AEAD.
	aeadMaxOverhead = 16

	// outBufLen holds one protected record of the largest size: header,
	// content, inner content type and tag (RFC 8446, Section 5.2).
	outBufLen = recordHeaderLen + maxPlaintext + 1 + aeadMaxOverhead
)

var (
	rawInPool  = sync.Pool{New: func() any { return new([rawInLen]byte) }}
	outBufPool = sync.Pool{New: func() any { return new([outBufLen]byte) }}
)

// pooledIn reports whether rawIn is a buffer of rawInPool.
func (c *Conn) pooledIn() bool { return cap(c.rawIn) == rawInLen }

// releaseRawIn returns the read buffer to its pool once every byte in it
// was consumed, and reads into smallIn again. The caller holds in and
// makes sure input does not alias rawIn.
func (c *Conn) releaseRawIn() {
	if c.rawOff < len(c.rawIn) {
		return // a partial record keeps its buffer
	}
	if c.pooledIn() {
		rawInPool.Put((*[rawInLen]byte)(c.rawIn[:rawInLen]))
	}
	c.rawIn, c.rawOff = nil, 0
}

// fill makes at least n bytes available at rawIn[rawOff:], n at most one
// whole record, reading as much as the transport has. It must not be
// called while input aliases rawIn.
//
// A record that does not fit smallIn moves to a pooled buffer only once
// smallIn is full, and bytes left over from a pooled buffer that fit
// smallIn move back to it: a connection waiting for the rest of a record
// holds the pooled buffer only when more than smallInLen bytes of it are
// in. Before, the five bytes of a header announcing a large record made a
// connection hold the pooled buffer (33 KiB) for as long as the peer
// stalled, twice what crypto/tls allocates for it.
func (c *Conn) fill(n int) error {
	if len(c.rawIn)-c.rawOff >= n {
		return nil
	}
	if n > rawInLen {
		return errors.New("tls: internal error: record larger than the read buffer")
	}
	c.releaseRawIn()
	pending := c.rawIn[c.rawOff:]
	switch {
	case c.rawIn == nil:
		c.rawIn = c.smallIn[:0]
	case c.pooledIn() && len(pending) <= smallInLen:
		m := copy(c.smallIn[:], pending)
		rawInPool.Put((*[rawInLen]byte)(c.rawIn[:rawInLen]))
		c.rawIn = c.smallIn[:m]
	case c.rawOff > 0:
		m := copy(c.rawIn, pending)
		c.rawIn = c.rawIn[:m]
	}
	c.rawOff = 0
	for len(c.rawIn) < n {
		if len(c.rawIn) == cap(c.rawIn) {
			// Only smallIn is ever too small.
			c.rawIn = append(rawInPool.Get().(*[rawInLen]byte)[:0], c.rawIn...)
		}
		m, err := c.conn.Read(c.rawIn[len(c.rawIn):cap(c.rawIn)])
		c.rawIn = c.rawIn[:len(c.rawIn)+m]
		if err != nil {
			if len(c.rawIn) >= n {
				break
			}
			if errors.Is(err, io.EOF) {
				// A connection closed without close_notify is truncated,
				// not finished (RFC 8446, Section 6.1).
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}
