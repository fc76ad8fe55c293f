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
//     largest record and most of the next, once smallIn is full; while
//     bytes keep arriving in quantity, reads inside a record go straight
//     to that buffer (see Conn.fill). That buffer goes back to the pool as soon as every
//     byte in it was consumed: when Read hands out the last byte of the
//     data it decrypted, or, at the latest, before the next transport
//     Read, which moves leftover bytes that fit back to smallIn unless
//     bytes are arriving in quantity. A partial record keeps its buffer,
//     since a transport timeout must not lose it (see Conn.Read), the
//     pooled one only once more than smallInLen bytes of the record are
//     in: once a transport Read returned, a peer that stalls inside a
//     record makes a connection hold the pooled buffer (33 KiB) only after
//     sending more than 512 bytes of it.
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
		putRawIn(c.rawIn)
	}
	c.rawIn, c.rawOff = nil, 0
}

// fill makes at least n bytes available at rawIn[rawOff:], n at most one
// whole record, reading as much as the transport has. It must not be
// called while input aliases rawIn.
//
// The pooled buffer holds no more than smallInLen bytes of a partial
// record once a transport Read returned: after each Read, and before
// returning its error (a timeout, a would-block), bytes that fit move back
// to smallIn and the pooled buffer goes back to its pool. Before, the five
// bytes of a header announcing a large record made a connection hold the
// pooled buffer (33 KiB) for as long as the peer stalled, twice what
// crypto/tls allocates for it.
//
// A Read at a record boundary goes to smallIn, so a connection waiting
// for its next record never waits on the pooled buffer. Inside a record
// that does not fit smallIn, the buffer depends on the last Read: while
// bytes arrive in quantity (flowing: the last Read filled what it was
// given or brought more than smallInLen bytes), the record and what was
// read ahead of it stay in the pooled buffer and the next Read goes
// there, about two records per Read. Otherwise bytes that fit move back
// to smallIn and the Read goes there first, moving to the pooled buffer
// once smallIn is full, one Read more per record. A Read that blocks
// holds the buffer it was given: a peer that stalls inside a record
// right after sending in quantity leaves a Read waiting on the pooled
// buffer until the transport times out, which a transport that never
// blocks (the host's inline streams, see backends.NonblockingConn) does
// at once. Before, with smallIn first every time, a bulk transfer of
// records of the largest size took one Read or more per record; now
// about one per two records, as crypto/tls (BenchmarkBulk's
// reads/record).
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
	case c.pooledIn() && len(pending) <= smallInLen && !c.flowing:
		base := c.rawIn
		c.rawIn = c.smallIn[:copy(c.smallIn[:], pending)]
		putRawIn(base)
	case c.rawOff > 0:
		c.rawIn = c.rawIn[:copy(c.rawIn, pending)]
	}
	c.rawOff = 0
	for len(c.rawIn) < n {
		if len(c.rawIn) == cap(c.rawIn) {
			// Only smallIn is ever too small.
			c.rawIn = append(rawInPool.Get().(*[rawInLen]byte)[:0], c.rawIn...)
		}
		space := cap(c.rawIn) - len(c.rawIn)
		m, err := c.conn.Read(c.rawIn[len(c.rawIn):cap(c.rawIn)])
		c.rawIn = c.rawIn[:len(c.rawIn)+m]
		c.flowing = m == space || m > smallInLen
		if c.pooledIn() && len(c.rawIn) <= smallInLen && len(c.rawIn) < n {
			base := c.rawIn
			c.rawIn = c.smallIn[:copy(c.smallIn[:], base)]
			putRawIn(base)
		}
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

// putRawIn returns a pooled buffer, b[0] its first byte, to its pool.
func putRawIn(b []byte) { rawInPool.Put((*[rawInLen]byte)(b[:rawInLen])) }
