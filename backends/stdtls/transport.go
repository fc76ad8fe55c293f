package stdtls

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/wasitls/wasitls/backends"
)

// transport is the net.Conn crypto/tls reads and writes. It observes two
// things crypto/tls does not expose: whether the peer closed the transport
// (to tell truncation from close_notify), and the plaintext alert records
// sent before the handshake is encrypted (to send the alert a hook asked
// for). After close_notify it drops what crypto/tls writes (see shut).
type transport struct {
	net.Conn
	eof   atomic.Bool   // Read returned (0, io.EOF)
	alert atomic.Uint32 // 0, or 1 + the alert to put in the next plaintext fatal alert
	// shut is set once close_notify went out. crypto/tls (Go 1.26)
	// answers a KeyUpdate that asks for one by writing its own, and when
	// that write fails, as it does after close_notify (crypto/tls then
	// sets a write deadline in the past), it returns without updating its
	// read keys either: the peer's next record fails with bad_record_mac.
	// Writes after close_notify are dropped instead, reported written, so
	// that crypto/tls moves both keys and reads on. Nothing after
	// close_notify is for the peer (RFC 8446, Section 6.1).
	shut atomic.Bool
	// firstWriteErr and failedWrites record the writes that failed.
	// crypto/tls answers a KeyUpdate that asks for one from inside Read;
	// when that write fails (the host's transport fails it when the peer
	// has not read what it was sent), crypto/tls keeps its read keys too,
	// and the peer's next record fails as bad_record_mac, which then
	// names the wrong cause (see conn.Read).
	firstWriteErr atomic.Pointer[error]
	failedWrites  atomic.Int32

	// counter, when the transport has one, is told of the backlog: what
	// Read read after the handshake (established) since conn.Read last
	// returned data, past freeBacklog and up to maxBacklogHeld, and 0 at
	// conn.Close; past maxPostHandshakeBytes Read fails.
	// crypto/tls buffers a post-handshake handshake message whole before
	// it looks at it, 256 KiB for a Certificate, which it then refuses
	// (it takes none after the handshake), 64 KiB for others; a peer
	// sending one in pieces, the last one never, made each connection
	// hold some 560 KiB (80 times an idle one), uncounted: 2.2 GiB in a
	// guest's 4,096 connections. In TLS 1.3 crypto/tls returns no data
	// while a handshake message is incomplete (records of other types
	// may not interleave), and in TLS 1.2 none comes after it (a
	// handshake message after the handshake fails the connection), so
	// data coming out of Read means no message is held in pieces.
	counter     backends.PeerBacklog
	established atomic.Bool
	backlog     atomic.Int64
	// handshakeRead counts what Read read before the handshake completed
	// (maxHandshakeBytes). crypto/tls's Reads are one at a time.
	handshakeRead int
}

// maxHandshakeBytes bounds what a connection reads in its handshake: as
// much as 8 handshake messages of the largest size crypto/tls takes (a
// Certificate, 256 KiB), where a side takes 7 at most, as circl-pq
// bounds it. crypto/tls bounds each message's length, not its records:
// a peer sending a byte of a message in each record padded to 16 KiB
// made a GiB of records per message (64 KiB), a decryption each, for as
// long as the handshake's timeout let it.
const maxHandshakeBytes = 8 << 18

// errHandshakeBytes is the error of a Read crossing maxHandshakeBytes.
var errHandshakeBytes = fmt.Errorf("stdtls: the peer sent more than %s in the handshake", mebibytes(maxHandshakeBytes))

// freeBacklog is the backlog a connection holds without telling the
// transport's counter: what crypto/tls reads of records of data before
// Read returns some (a read takes up to its record buffer, 40,960 bytes,
// several records, of which Read returns the first of data and keeps
// the rest), which every connection may hold anyway. Data never crosses
// it, so that the counter, told of everything past it, holds nothing for
// connections that only carry data, however many wait in the middle of a
// record. It cannot be lower without a cost on every record of data:
// which of the records a read took were data only crypto/tls knows (in
// TLS 1.3 all are application_data on the wire), so that a peer sending a
// byte of data and 40 KB of a handshake message behind it in one read
// hides those 40 KB from any count the transport makes, record headers
// parsed or not, unless each read ends at a record's end (twice the
// reads of bulk data). docs/security.md gives what a connection holds
// beneath it (TestPeerBacklogFreeCost).
const freeBacklog = 64 << 10

// maxPostHandshakeBytes bounds the backlog: 16 MiB, as circl-pq bounds
// what it reads of handshake records between two records of data.
// crypto/tls takes 16 post-handshake messages without data at most (1
// MiB of 64 KiB ones) and bounds each message's length, but not its
// records: a peer sending a byte of a message in each record padded to
// 16 KiB made a GiB of records per message, a decryption each, which the
// counter, told of them, took for what the connection holds, so that a
// peer's padding spent the guest's budget of peer certificate bytes.
const maxPostHandshakeBytes = 16 << 20

// errPostHandshakeBytes is the error of a Read crossing
// maxPostHandshakeBytes.
var errPostHandshakeBytes = fmt.Errorf("stdtls: the peer sent more than %s after the handshake without data", mebibytes(maxPostHandshakeBytes))

// mebibytes spells n bytes, a bound, in MiB: "2 MiB", "0.5 MiB".
func mebibytes(n int) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) + " MiB"
}

// maxBacklogHeld is the most of a backlog the counter is told of: what a
// connection holds of it at most, one message of the largest size
// crypto/tls buffers (a Certificate, 256 KiB) and what freeBacklog
// covers. Past it, what the peer sent is padding or messages handled
// whole, which the connection does not hold.
const maxBacklogHeld = 1<<18 + freeBacklog

func (t *transport) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n == 0 && err == io.EOF {
		t.eof.Store(true)
	}
	if n > 0 && !t.established.Load() {
		if t.handshakeRead += n; t.handshakeRead > maxHandshakeBytes {
			return n, errHandshakeBytes // not temporary: crypto/tls fails the handshake
		}
	} else if n > 0 {
		if cerr := t.countBacklog(n); cerr != nil {
			return n, cerr // not temporary: crypto/tls fails the connection
		}
	}
	return n, err
}

// countBacklog adds n bytes read to the backlog, fails past
// maxPostHandshakeBytes, and tells the counter of it past freeBacklog,
// up to maxBacklogHeld.
func (t *transport) countBacklog(n int) error {
	b := t.backlog.Add(int64(n))
	if b > maxPostHandshakeBytes {
		return errPostHandshakeBytes
	}
	if b <= freeBacklog {
		return nil
	}
	return t.counter.Hold(min(b, maxBacklogHeld))
}

// dataRead empties the backlog: Read returned data.
func (t *transport) dataRead() {
	if t.backlog.Load() != 0 {
		t.backlog.Store(0)
	}
	t.counter.Hold(0)
}

// Write substitutes the armed alert description in a plaintext fatal alert
// record: content type 21, legacy version 3.x, length 2, level 2 (RFC 8446,
// Section 5.1 and Section 6). Encrypted records (content type 23 in TLS 1.3,
// longer payloads in TLS 1.2) are never touched.
func (t *transport) Write(p []byte) (int, error) {
	if t.shut.Load() {
		return len(p), nil
	}
	n, err := t.write(p)
	if err != nil {
		t.recordWriteErr(err)
	}
	return n, err
}

// recordWriteErr records a failed write. Its own function, so that only
// a failure moves the error to the heap, not every Write.
func (t *transport) recordWriteErr(err error) {
	t.firstWriteErr.CompareAndSwap(nil, &err)
	t.failedWrites.Add(1)
}

func (t *transport) write(p []byte) (int, error) {
	if a := t.alert.Load(); a != 0 && len(p) == 7 &&
		p[0] == 21 && p[1] == 3 && p[3] == 0 && p[4] == 2 && p[5] == 2 {
		t.alert.Store(0)
		var rec [7]byte
		copy(rec[:], p)
		rec[6] = byte(a - 1)
		if _, err := t.Conn.Write(rec[:]); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return t.Conn.Write(p)
}

// writeFailedBefore returns the first failed write's error when another
// write failed after it: the bad_record_mac alert crypto/tls sends, which
// fails as well, comes last, so the first failure came before the bad
// record.
func (t *transport) writeFailedBefore() error {
	if t.failedWrites.Load() < 2 {
		return nil
	}
	if p := t.firstWriteErr.Load(); p != nil {
		return *p
	}
	return nil
}

// armAlert makes the next plaintext fatal alert carry description a.
func (t *transport) armAlert(a backends.Alert) { t.alert.Store(uint32(a) + 1) }

// closeWrite half-closes the transport when it can.
func (t *transport) closeWrite() {
	if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
