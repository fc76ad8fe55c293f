package circlpq

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/errtext"
)

// aeadNonceLength is the per-record nonce length of every TLS 1.3 AEAD
// (RFC 8446, Section 5.3).
const aeadNonceLength = 12

// A Conn is a TLS 1.3 connection over a transport: the record layer, the
// handshake state and the negotiated parameters.
//
// Locking: handshakeMu serialises handshakes; in guards the read side
// (record input, handshake reassembly, read keys); out guards the write side
// (write keys, the send buffer). A goroutine holding in may take out (to
// answer a KeyUpdate or send an alert), never the reverse. stateMu guards
// the negotiated State only.
//
// Memory: an established connection that is not in the middle of a record
// holds no record buffer (record_buffers.go).
type Conn struct {
	conn         net.Conn
	isClient     bool
	clientConfig *backends.ClientConfig
	serverConfig *backends.ServerConfig

	handshakeMu   sync.Mutex
	handshakeErr  error
	handshakeDone atomic.Bool

	stateMu sync.Mutex
	state   backends.State

	in  halfConn
	out halfConn

	// Read side, guarded by in.
	rawIn        []byte // transport bytes; rawIn[rawOff:] not yet consumed
	rawOff       int    // rawIn is smallIn[:], a pooled buffer or nil (record_buffers.go)
	smallIn      [smallInLen]byte
	flowing      bool   // the last transport Read brought bytes in quantity (record_buffers.go)
	input        []byte // decrypted application data not yet returned
	hand         []byte // handshake bytes not yet parsed into messages
	emptyRecords int    // consecutive records without data
	// postHandshake counts the post-handshake messages processed since
	// the last application data record, across Reads (see
	// handlePostHandshakeBounded).
	postHandshake int
	// keyUpdates counts the KeyUpdates among them (maxKeyUpdates).
	keyUpdates int
	// postHandshakeBytes counts the transport bytes of the handshake
	// records since then (maxPostHandshakeBytes).
	postHandshakeBytes int
	// handshakeBytes counts the transport bytes of the handshake
	// records of the handshake (maxHandshakeBytes).
	handshakeBytes int
	// backlog tells the transport's counter, when it has one, what the
	// connection holds (holdBacklog), and 0 at Close.
	backlog backends.PeerBacklog
	// readAhead tells the transport's counter, when it has one, how much
	// application data RequestClientIdentity read ahead of Read and
	// holds for it (see readForAuth); guarded by in.
	readAhead backends.ReadAhead
	// aheadBuf is the buffer readForAuth keeps application data in for
	// Read, whole, while c.input is the rest of it; nil otherwise.
	// Guarded by in.
	aheadBuf []byte
	// readWoken is closed by the next Read as it takes in, for a
	// request waiting for one (readWake); nil when none waits. Guarded
	// by in.
	readWoken chan struct{}
	// readers counts the Reads waiting for in: readForAuth, which holds
	// in while it reads the transport, stops for them (see cutAhead).
	readers atomic.Int32
	// deadlineMu orders the transport's read deadline: readDeadline,
	// the last set through SetReadDeadline or SetDeadline; aheadReading,
	// set while readForAuth may read the transport; aheadCut, set while
	// its read is cut short by a deadline that has passed, which it puts
	// back to readDeadline as it stops.
	deadlineMu   sync.Mutex
	readDeadline time.Time
	aheadReading bool
	aheadCut     bool
	// authCarry is what hand held, told to the counter, when a server's
	// wait for a post-handshake certificate began (authWaited), less what
	// was handled of it since: bytes the transport read before its own
	// count started, which stay told (holdBacklog).
	authCarry     int
	authWaited    bool
	ignoredAlerts int  // consecutive warning-level user_canceled alerts
	sawHello      bool // a ClientHello was sent or received (CCS is legal)
	certRequested bool // server: its handshake sent a CertificateRequest
	didHRR        bool // the handshake went through a HelloRetryRequest
	// skipEarlyData is how many more bytes of rejected 0-RTT data a server
	// drops (RFC 8446, Section 4.2.10); 0 when none is expected.
	skipEarlyData int
	// appDataIn counts the transport bytes of the application data
	// records read (ApplicationDataRead).
	appDataIn atomic.Int64

	// Write side, guarded by out.
	buffering       bool   // collect records in sendBuf until flush
	sendBuf         []byte // pending records while buffering
	closeNotifySent bool
	// keyUpdatePending: the peer asked for a KeyUpdate (update_requested)
	// that this side has not sent yet; the next application data record
	// goes out after one (RFC 8446, Section 4.6.3). A Read sets it
	// without out, which a write waiting for the peer may hold.
	keyUpdatePending atomic.Bool

	// Secrets of the finished handshake, for the exporter and tickets.
	suite            *cipherSuite
	exporterSecret   []byte
	resumptionSecret []byte                // client with a session cache only
	sessionCache     backends.SessionCache // client only: ClientConfig.Sessions or SetSessionCache
	sessionKey       string
	storedTickets    int // tickets storeTicket took, guarded by in

	// auth is post-handshake client authentication
	// (post_handshake_auth.go).
	auth authState

	closed atomic.Bool

	// testMutate, set only by this package's tests, rewrites each
	// handshake message this side sends, before it enters the transcript,
	// to play a misbehaving peer.
	testMutate func(msg []byte) []byte

	// testVerifyPrefs and testSigningPrefs, set only by this package's
	// tests (the BoGo shim), replace the signature schemes this side
	// advertises and accepts, and restrict those it signs with.
	testVerifyPrefs, testSigningPrefs []uint16

	// peerSignatureScheme is the scheme of the peer's last
	// CertificateVerify, for tests.
	peerSignatureScheme uint16
}

// verifySchemes are the signature schemes this side advertises and
// accepts in CertificateVerify.
func (c *Conn) verifySchemes() []uint16 {
	if c.testVerifyPrefs != nil {
		return c.testVerifyPrefs
	}
	return supportedSignatureSchemes
}

// signingSchemes filters the schemes a peer accepts down to those this
// side may sign with.
func (c *Conn) signingSchemes(peer []uint16) []uint16 {
	if c.testSigningPrefs == nil {
		return peer
	}
	var out []uint16
	for _, s := range peer {
		if contains(c.testSigningPrefs, s) {
			out = append(out, s)
		}
	}
	return out
}

// A halfConn is one direction of record protection (RFC 8446, Section 5.2).
type halfConn struct {
	sync.Mutex
	err           error // sticky: the first error ends this direction
	suite         *cipherSuite
	aead          cipher.AEAD // nil before the first key change
	iv            [aeadNonceLength]byte
	seq           uint64
	trafficSecret []byte
	nonceBuf      [aeadNonceLength]byte // see nonceBytes
}

// setTrafficSecret installs keys derived from a traffic secret and resets
// the sequence number (RFC 8446, Section 5.3).
func (hc *halfConn) setTrafficSecret(suite *cipherSuite, secret []byte) error {
	key, iv := suite.trafficKey(secret)
	aead, err := suite.aead(key)
	if err != nil {
		return err
	}
	hc.suite, hc.aead, hc.trafficSecret, hc.seq = suite, aead, secret, 0
	copy(hc.iv[:], iv)
	return nil
}

// nonce returns the per-record nonce: the IV XOR the 64-bit sequence number
// left-padded to the IV length (RFC 8446, Section 5.3).
func (hc *halfConn) nonce() [aeadNonceLength]byte {
	n := hc.iv
	for i := 0; i < 8; i++ {
		n[aeadNonceLength-1-i] ^= byte(hc.seq >> (8 * i))
	}
	return n
}

// nonceBytes is nonce in the half's own buffer, valid until the next
// call: the AEAD takes a slice, and a local array's would move to the heap
// on every record. The half's lock is held.
func (hc *halfConn) nonceBytes() []byte {
	hc.nonceBuf = hc.nonce()
	return hc.nonceBuf[:]
}

func (hc *halfConn) incSeq() error {
	// "Because the size of sequence numbers is 64-bit, they should not
	// wrap": rather than wrap, the connection fails (RFC 8446, Section 5.3).
	if hc.seq == ^uint64(0) {
		return errors.New("tls: sequence number wraparound")
	}
	hc.seq++
	return nil
}

func newConn(transport net.Conn, isClient bool) *Conn {
	c := &Conn{conn: transport, isClient: isClient}
	c.backlog.SetCounter(transport)
	c.readAhead.SetCounter(transport)
	return c
}

// Client returns a TLS 1.3 client connection over transport. No I/O happens
// until Handshake. The configuration must not be modified afterwards.
func Client(transport net.Conn, config *backends.ClientConfig) (*Conn, error) {
	if config == nil {
		return nil, errors.New("circlpq: nil client config")
	}
	if err := checkOptions(&config.Options); err != nil {
		return nil, err
	}
	c := newConn(transport, true)
	c.clientConfig = config
	c.sessionCache = config.Sessions
	return c, nil
}

// Server returns a TLS 1.3 server connection over transport. No I/O happens
// until Handshake. The configuration must not be modified afterwards.
func Server(transport net.Conn, config *backends.ServerConfig) (*Conn, error) {
	if config == nil {
		return nil, errors.New("circlpq: nil server config")
	}
	if err := checkOptions(&config.Options); err != nil {
		return nil, err
	}
	c := newConn(transport, false)
	c.serverConfig = config
	return c, nil
}

// checkOptions rejects configurations this engine cannot honour.
func checkOptions(o *backends.Options) error {
	if len(o.Versions) > 0 && !contains(o.Versions, versionTLS13) {
		return fmt.Errorf("circlpq: only TLS 1.3 is implemented: %w", backends.ErrNotSupported)
	}
	for _, g := range o.Groups {
		if !isGroupSupported(g) {
			return fmt.Errorf("circlpq: group 0x%04x: %w", g, backends.ErrNotSupported)
		}
	}
	if len(o.CipherSuites) > 0 && len(usableSuites(o.CipherSuites)) == 0 {
		return fmt.Errorf("circlpq: none of the configured cipher suites is a TLS 1.3 suite: %w", backends.ErrNotSupported)
	}
	if o.KeyShares < 0 {
		return errors.New("circlpq: negative key share count")
	}
	return nil
}

// usableSuites filters a configured list down to TLS 1.3 suites; TLS 1.2
// suites in a shared configuration are ignored.
func usableSuites(ids []uint16) []uint16 {
	if len(ids) == 0 {
		return defaultCipherSuites
	}
	var out []uint16
	for _, id := range ids {
		if cipherSuiteByID(id) != nil {
			out = append(out, id)
		}
	}
	return out
}

func groupsOf(o *backends.Options) []uint16 {
	if len(o.Groups) == 0 {
		return defaultGroups
	}
	return o.Groups
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// LocalAddr, RemoteAddr and the deadlines pass through to the transport.
// A read deadline set while a server's RequestClientIdentity has its read
// cut short (see cutAhead) reaches the transport as that read stops.
func (c *Conn) LocalAddr() net.Addr                { return c.conn.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr               { return c.conn.RemoteAddr() }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

func (c *Conn) SetDeadline(t time.Time) error {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.readDeadline = t
	if c.aheadCut {
		return c.conn.SetWriteDeadline(t)
	}
	return c.conn.SetDeadline(t)
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.readDeadline = t
	if c.aheadCut {
		return nil
	}
	return c.conn.SetReadDeadline(t)
}

// cutAhead cuts short the transport read of readForAuth, if one may be in
// progress, with a read deadline that has passed: a Read waits for it
// (readForAuth, which holds in, would otherwise keep the Read from the
// data it read ahead for as long as the peer sends nothing), or its
// request's context ended.
func (c *Conn) cutAhead() {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	if c.aheadReading && !c.aheadCut {
		c.aheadCut = true
		c.conn.SetReadDeadline(time.Now())
	}
}

// readingAhead marks the start (true) and the end (false) of readForAuth's
// reads of the transport; at the end, a read deadline cutAhead cut short
// is put back as it was set.
func (c *Conn) readingAhead(on bool) {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	c.aheadReading = on
	if !on && c.aheadCut {
		c.aheadCut = false
		c.conn.SetReadDeadline(c.readDeadline)
	}
}

// NetConn returns the transport.
func (c *Conn) NetConn() net.Conn { return c.conn }

// State reports what was negotiated so far.
func (c *Conn) State() backends.State {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	s := c.state
	s.PeerChain = append([][]byte(nil), s.PeerChain...)
	return s
}

func (c *Conn) updateState(f func(s *backends.State)) {
	c.stateMu.Lock()
	f(&c.state)
	c.stateMu.Unlock()
}

// ---- record input ----

// readRecord reads one record and files its content: application data in
// input, handshake bytes in hand; it handles alerts and the compatibility
// change_cipher_spec itself. The caller holds in.
//
// Every error ends the read side for good, except a transport timeout
// (see [isTimeout]): then the bytes read so far stay in rawIn and the next
// call continues the same record.
func (c *Conn) readRecord() error {
	if c.in.err != nil {
		return c.in.err
	}
	if err := c.readRecordLocked(); err != nil {
		return c.latchReadError(err)
	}
	return nil
}

// latchReadError makes err the read side's sticky error, unless it is a
// transport timeout, which leaves the connection intact. It returns the
// error the caller should report. The caller holds in.
func (c *Conn) latchReadError(err error) error {
	if isTimeout(err) {
		return err
	}
	c.failRead(err)
	return c.in.err
}

// failRead makes err the read side's sticky error, if it has none yet, and
// drops what the read side buffers (a partial handshake message, the
// record buffer), since nothing will be read again: a failed connection
// the application keeps holds no more than an idle one. Application data
// already decrypted stays for Read. The caller holds in.
func (c *Conn) failRead(err error) {
	if c.in.err == nil {
		c.in.err = err
	}
	c.hand = nil
	if len(c.input) == 0 {
		c.input = nil
		c.rawOff = len(c.rawIn)
		c.releaseRawIn()
	}
}

// isTimeout reports whether err is a transport timeout: a [net.Error]
// whose Timeout is true. A read deadline that expired, or a transport that
// never blocks and has nothing to read yet, reports one; neither says
// anything about the connection, so the read side keeps its state and a
// later Read resumes where this one stopped.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *Conn) readRecordLocked() error {
	if err := c.fill(recordHeaderLen); err != nil {
		return err
	}
	hdr := c.rawIn[c.rawOff : c.rawOff+recordHeaderLen]
	typ := recordType(hdr[0])
	n := int(hdr[3])<<8 | int(hdr[4])
	// legacy_record_version is otherwise ignored (RFC 8446, Section 5.1),
	// but a record that is not 0x03XX is not TLS at all.
	if hdr[1] != 3 {
		return c.fail(alertProtocolVersion, "tls: record is not TLS (version bytes %#02x%02x)", hdr[1], hdr[2])
	}
	// RFC 8446, Section 5.1 and 5.2: plaintext records carry at most 2^14
	// bytes, protected ones at most 2^14 + 256.
	if c.in.aead == nil && n > maxPlaintext || n > maxCiphertext {
		return c.fail(alertRecordOverflow, "tls: oversized record of %d bytes", n)
	}
	if err := c.fill(recordHeaderLen + n); err != nil {
		return err
	}
	record := c.rawIn[c.rawOff : c.rawOff+recordHeaderLen+n]
	c.rawOff += recordHeaderLen + n
	payload := record[recordHeaderLen:]

	if typ == recordTypeChangeCipherSpec {
		// RFC 8446, Section 5: a single unprotected 0x01 is dropped during
		// the handshake; anything else is unexpected_message.
		if c.handshakeDone.Load() || !c.sawHello || len(payload) != 1 || payload[0] != 1 {
			return c.fail(alertUnexpectedMessage, "tls: unexpected change_cipher_spec record")
		}
		if len(c.hand) > 0 {
			return c.fail(alertUnexpectedMessage, "tls: change_cipher_spec inside a handshake message")
		}
		return c.countEmpty()
	}

	// A peer that fails on our ServerHello has no keys yet and alerts in
	// the clear; accepting that during the handshake costs nothing, since
	// an attacker can always cut the connection.
	plainAlert := typ == recordTypeAlert && !c.handshakeDone.Load()
	if c.in.aead != nil && !plainAlert {
		// RFC 8446, Section 5.2: protected records have the outer type
		// application_data.
		if typ != recordTypeApplicationData {
			return c.fail(alertUnexpectedMessage, "tls: unprotected record of type %d after key change", typ)
		}
		plain, err := c.in.aead.Open(payload[:0], c.in.nonceBytes(), payload, record[:recordHeaderLen])
		if err != nil {
			if c.skipEarlyData > 0 {
				return c.dropEarlyData(len(payload))
			}
			return c.fail(alertBadRecordMAC, "tls: record authentication failed")
		}
		c.skipEarlyData = 0
		if err := c.in.incSeq(); err != nil {
			return c.fail(alertInternalError, "%v", err)
		}
		// TLSInnerPlaintext: content || type || zeros. The type is the
		// last non-zero byte (RFC 8446, Section 5.4).
		if len(plain) > maxPlaintext+1 {
			return c.fail(alertRecordOverflow, "tls: oversized inner plaintext")
		}
		i := len(plain) - 1
		for i >= 0 && plain[i] == 0 {
			i--
		}
		if i < 0 {
			return c.fail(alertUnexpectedMessage, "tls: record with no content type")
		}
		typ = recordType(plain[i])
		payload = plain[:i]
	}

	// RFC 8446, Section 5.1: "Handshake messages MUST NOT be interleaved
	// with other record types". Before, alerts were taken between two
	// fragments of a message, and a warning user_canceled, ignored, so a
	// peer that sent one byte of a handshake message between four of
	// them kept the connection working without progress for as long as
	// it liked (the count of ignored alerts started again at each
	// fragment); change_cipher_spec records during the handshake likewise.
	if typ != recordTypeHandshake && len(c.hand) > 0 {
		return c.fail(alertUnexpectedMessage, "tls: record of type %d inside a handshake message", typ)
	}

	switch typ {
	case recordTypeAlert:
		// RFC 8446, Section 6: alerts are two bytes and never fragmented.
		if len(payload) != 2 {
			return c.fail(alertDecodeError, "tls: malformed alert record")
		}
		a := Alert(payload[1])
		if a == alertCloseNotify {
			return io.EOF
		}
		// RFC 8446, Section 6.1: user_canceled is a closure alert, not an
		// error alert, and "should be followed by a close_notify". A
		// warning-level one is ignored, as crypto/tls, BoringSSL, NSS and
		// OpenSSL do (some peers send it without meaning to close); the
		// close_notify ends the connection. A few in a row at most, so a
		// peer cannot keep a reader spinning on them.
		if a == alertUserCanceled && payload[0] == alertLevelWarning {
			if c.ignoredAlerts++; c.ignoredAlerts > maxIgnoredAlerts {
				return c.fail(alertUnexpectedMessage, "tls: too many user_canceled alerts")
			}
			return nil
		}
		// Every other alert ends the connection in TLS 1.3 (RFC 8446,
		// Section 6.2: error alerts are fatal whatever their level).
		return &AlertError{Alert: a, Remote: true}
	case recordTypeHandshake:
		// RFC 8446, Section 5.1: no zero-length handshake fragments.
		if len(payload) == 0 {
			return c.fail(alertUnexpectedMessage, "tls: empty handshake record")
		}
		if len(c.hand)+len(payload) > maxHandshake+4 {
			return c.fail(alertUnexpectedMessage, "tls: handshake message too large")
		}
		c.hand = append(c.hand, payload...)
		// During the handshake a handshake record is progress. After it,
		// only application data is, as in crypto/tls: post-handshake
		// messages have their own bound (handlePostHandshakeBounded), and
		// before, each of them started the count of empty records and
		// ignored alerts again, so that 64 KeyUpdates let 6,400 empty
		// records (100 MiB of padding) through without data.
		if !c.handshakeDone.Load() {
			c.emptyRecords, c.ignoredAlerts = 0, 0
			if c.handshakeBytes += len(record); c.handshakeBytes > maxHandshakeBytes {
				return c.fail(alertUnexpectedMessage, "tls: too many handshake bytes")
			}
		} else if c.postHandshakeBytes += len(record); c.postHandshakeBytes > maxPostHandshakeBytes {
			return c.fail(alertUnexpectedMessage, "tls: too many post-handshake bytes without data")
		}
		if err := c.checkMessageHeader(); err != nil {
			return err
		}
		return c.holdBacklog()
	case recordTypeApplicationData:
		if c.in.aead == nil && c.skipEarlyData > 0 {
			// 0-RTT data sent before a HelloRetryRequest.
			return c.dropEarlyData(len(payload))
		}
		if !c.handshakeDone.Load() || c.in.aead == nil {
			// No 0-RTT data is ever accepted.
			return c.fail(alertUnexpectedMessage, "tls: application data during the handshake")
		}
		c.appDataIn.Add(int64(len(record)))
		if len(payload) == 0 {
			return c.countEmpty()
		}
		c.emptyRecords, c.ignoredAlerts, c.postHandshake, c.postHandshakeBytes, c.keyUpdates = 0, 0, 0, 0, 0
		c.input = payload
		return nil
	default:
		return c.fail(alertUnexpectedMessage, "tls: unexpected record type %d", typ)
	}
}

// dropEarlyData discards a record of 0-RTT data the server does not
// accept, within a bound: "ignore early data by skipping all records with
// an external content type of application_data ... up to the configured
// max_early_data_size" (RFC 8446, Section 4.2.10). n is the record's
// payload length; the record is charged with its header too, so that
// empty records, which carry no payload, do not go unbounded (before, a
// client could send them until the handshake timed out).
func (c *Conn) dropEarlyData(n int) error {
	c.skipEarlyData -= recordHeaderLen + n
	if c.skipEarlyData <= 0 {
		c.skipEarlyData = 0
		return c.fail(alertUnexpectedMessage, "tls: too much rejected early data")
	}
	return nil
}

func (c *Conn) countEmpty() error {
	c.emptyRecords++
	if c.emptyRecords > maxEmptyRecords {
		return c.fail(alertUnexpectedMessage, "tls: too many records without data")
	}
	return nil
}

// readHandshake returns the next whole handshake message, header included.
// The caller holds in (during the handshake, handshakeMu implies it).
func (c *Conn) readHandshake() ([]byte, error) {
	for len(c.hand) < 4 {
		if err := c.readRecord(); err != nil {
			return nil, err
		}
		if len(c.input) > 0 {
			return nil, c.fail(alertUnexpectedMessage, "tls: application data instead of a handshake message")
		}
	}
	if err := c.checkMessageHeader(); err != nil {
		return nil, err
	}
	n := int(c.hand[1])<<16 | int(c.hand[2])<<8 | int(c.hand[3])
	for len(c.hand) < 4+n {
		if err := c.readRecord(); err != nil {
			return nil, err
		}
		if len(c.input) > 0 {
			return nil, c.fail(alertUnexpectedMessage, "tls: application data inside a handshake message")
		}
	}
	msg := make([]byte, 4+n)
	copy(msg, c.hand)
	c.hand = c.hand[4+n:]
	c.authCarry = max(0, c.authCarry-(4+n))
	if len(c.hand) == 0 {
		c.hand = c.hand[:0:0]
	}
	if err := c.holdBacklog(); err != nil {
		return nil, err
	}
	return msg, nil
}

// holdBacklog tells the transport's counter, when it has one
// (backends.PeerBacklogCounter), what the connection holds of handshake
// messages in pieces after the handshake: a peer may send up to 64 KiB
// of one (maxHandshakeOther) and never its end, 79 KiB of heap, which a
// guest's thousands of connections would hold uncounted. Whole messages
// are gone once handled, so a connection holds nothing counted once its
// message is in, and none when data comes (no data may come inside a
// message). While a server waits for the client's certificate, the
// transport counts what it reads itself: only what hand held when the
// wait began, which the transport had read before, is told then, until
// it is handled. The caller holds in.
func (c *Conn) holdBacklog() error {
	if !c.backlog.Counting() || !c.handshakeDone.Load() {
		return nil
	}
	n := len(c.hand)
	waiting := !c.isClient && c.auth.waiting()
	if waiting && !c.authWaited {
		c.authCarry = int(c.backlog.Held())
	}
	c.authWaited = waiting
	if waiting {
		n = min(n, c.authCarry)
	} else {
		c.authCarry = 0
	}
	if err := c.backlog.Hold(int64(n)); err != nil {
		return c.fail(alertInternalError, "tls: %w", err)
	}
	return nil
}

// checkMessageHeader fails the connection when the handshake message at
// the start of hand, once its header is in, announces more than
// maxMessageLen. The caller holds in.
func (c *Conn) checkMessageHeader() error {
	if len(c.hand) < 4 {
		return nil
	}
	n := int(c.hand[1])<<16 | int(c.hand[2])<<8 | int(c.hand[3])
	if limit := c.maxMessageLen(c.hand[0]); n > limit {
		return c.fail(alertUnexpectedMessage, "tls: handshake message of type %d and %d bytes exceeds the limit of %d", c.hand[0], n, limit)
	}
	return nil
}

// maxMessageLen is the largest handshake message body of type typ this
// side takes now: maxHandshake for a Certificate it waits for,
// maxHandshakeOther for anything else. The bound applies as soon as the
// header is in, so a peer that announces a large message and trickles it
// makes the connection hold at most that much.
func (c *Conn) maxMessageLen(typ uint8) int {
	if typ == typeCertificate && c.waitsForCertificate() {
		return maxHandshake
	}
	return maxHandshakeOther
}

// waitsForCertificate reports whether a Certificate may come: the server's
// chain to a client in the handshake, a client's to a server that asked
// for it in the handshake, or after it with a request outstanding.
func (c *Conn) waitsForCertificate() bool {
	if !c.handshakeDone.Load() {
		return c.isClient || c.certRequested
	}
	return !c.isClient && c.auth.waiting()
}

// setReadSecret switches the read keys. RFC 8446, Section 5.1: handshake
// messages must not span a key change, so pending handshake bytes are an
// unexpected_message.
func (c *Conn) setReadSecret(suite *cipherSuite, secret []byte) error {
	if len(c.hand) > 0 {
		return c.fail(alertUnexpectedMessage, "tls: handshake message spans a key change")
	}
	if err := c.in.setTrafficSecret(suite, secret); err != nil {
		return c.fail(alertInternalError, "tls: %v", err)
	}
	return nil
}

// ---- record output ----

// writeRecordLocked protects and sends data as records of typ, at most
// 2^14 bytes of content each. The caller holds out.
func (c *Conn) writeRecordLocked(typ recordType, data []byte) (int, error) {
	if c.out.err != nil {
		return 0, c.out.err
	}
	out := outBufPool.Get().(*[outBufLen]byte)
	defer outBufPool.Put(out)
	written := 0
	for len(data) > 0 || typ != recordTypeApplicationData && written == 0 {
		m := min(len(data), maxPlaintext)
		rec := out[:0]
		outerType := typ
		if c.out.aead != nil {
			outerType = recordTypeApplicationData
		}
		size := m
		if c.out.aead != nil {
			size += 1 + c.out.aead.Overhead()
		}
		if cap(rec) < recordHeaderLen+size {
			// Only an AEAD with a tag above aeadMaxOverhead gets here.
			rec = make([]byte, 0, recordHeaderLen+size)
		}
		// legacy_record_version is 0x0301 for an initial ClientHello (not
		// one after a HelloRetryRequest) and 0x0303 otherwise
		// (RFC 8446, Section 5.1).
		vers := byte(0x03)
		if typ == recordTypeHandshake && c.isClient && !c.sawHello {
			vers = 0x01
		}
		rec = append(rec, byte(outerType), 0x03, vers, byte(size>>8), byte(size))
		rec = append(rec, data[:m]...)
		if c.out.aead != nil {
			rec = append(rec, byte(typ))
			rec = c.out.aead.Seal(rec[:recordHeaderLen], c.out.nonceBytes(), rec[recordHeaderLen:], rec[:recordHeaderLen])
			if err := c.out.incSeq(); err != nil {
				c.out.err = err
				return written, err
			}
		}
		if c.buffering {
			c.sendBuf = append(c.sendBuf, rec...)
		} else if _, err := c.conn.Write(rec); err != nil {
			c.out.err = err
			return written, err
		}
		written += m
		data = data[m:]
		if len(data) == 0 {
			break
		}
	}
	return written, nil
}

// flush sends buffered records. The caller holds out.
func (c *Conn) flush() error {
	if len(c.sendBuf) == 0 {
		return nil
	}
	_, err := c.conn.Write(c.sendBuf)
	// The flights are over: the buffer is not kept for the idle
	// connection that follows.
	c.sendBuf = nil
	if err != nil && c.out.err == nil {
		c.out.err = err
	}
	return err
}

// writeHandshake sends a handshake message (buffered during the handshake)
// and adds it to the transcript when one is given.
func (c *Conn) writeHandshake(msg []byte, transcript interface{ Write([]byte) (int, error) }) error {
	c.out.Lock()
	defer c.out.Unlock()
	if c.testMutate != nil {
		msg = c.testMutate(msg)
	}
	if transcript != nil {
		transcript.Write(msg)
	}
	_, err := c.writeRecordLocked(recordTypeHandshake, msg)
	return err
}

// An encoder is a handshake message this side sends.
type encoder interface {
	encode() ([]byte, error)
}

// writeMessage is writeHandshake of one of this side's messages, encoded
// once, or fails the connection with internal_error when a field
// overfills its length prefix (what the peer, the application or the
// host's configuration put in it was too long; see the package
// documentation, "Encoding").
func (c *Conn) writeMessage(m encoder, transcript interface{ Write([]byte) (int, error) }) error {
	msg, err := m.encode()
	if err != nil {
		return c.fail(alertInternalError, "%w", err)
	}
	return c.writeHandshake(msg, transcript)
}

// writeChangeCipherSpec sends the compatibility-mode change_cipher_spec
// (RFC 8446, Appendix D.4).
func (c *Conn) writeChangeCipherSpec() error {
	c.out.Lock()
	defer c.out.Unlock()
	_, err := c.writeRecordLocked(recordTypeChangeCipherSpec, []byte{1})
	return err
}

func (c *Conn) flushLocked() error {
	c.out.Lock()
	defer c.out.Unlock()
	return c.flush()
}

// sendAlertLocked sends an alert; the caller holds out. Alerts other than
// close_notify and user_canceled are fatal (RFC 8446, Section 6).
func (c *Conn) sendAlertLocked(a Alert) error {
	level := alertLevelFatal
	if a == alertCloseNotify || a == alertUserCanceled {
		level = alertLevelWarning
	}
	if c.out.err != nil && a != alertCloseNotify {
		return c.out.err
	}
	_, err := c.writeRecordLocked(recordTypeAlert, []byte{level, byte(a)})
	if err == nil {
		err = c.flush()
	}
	if a != alertCloseNotify && c.out.err == nil {
		c.out.err = &AlertError{Alert: a, Err: errors.New("tls: connection failed with a local alert")}
	}
	return err
}

func (c *Conn) sendAlert(a Alert) error {
	if !c.handshakeDone.Load() {
		c.out.Lock()
	} else if !c.out.TryLock() {
		// A write in progress, which may wait for a peer that does
		// not read: the alert follows it, and the read that failed
		// does not wait for it.
		go func() {
			c.out.Lock()
			defer c.out.Unlock()
			c.sendAlertLocked(a)
		}()
		return nil
	}
	defer c.out.Unlock()
	return c.sendAlertLocked(a)
}

// fail sends alert a and returns an *AlertError carrying the formatted
// reason. It is the one way protocol errors leave the engine. The reason
// is bounded (errtext.Bound): it may quote what the peer sent (crypto/x509
// quotes a malformed name, each control character as four bytes), and
// the connection keeps it, as its read side's error, for its life.
func (c *Conn) fail(a Alert, format string, args ...any) error {
	err := &AlertError{Alert: a, Err: errtext.Bound(fmt.Errorf(format, args...))}
	c.sendAlert(a)
	return err
}

// ---- application data ----

// Read reads application data. It returns io.EOF after the peer's
// close_notify, and io.ErrUnexpectedEOF when the transport ended without it.
//
// When a Read of the transport fails with a timeout (a [net.Error] whose
// Timeout reports true: an expired read deadline, or a transport that never
// blocks), Read returns that error and keeps what it read so far: a partial
// record, or a handshake message (KeyUpdate, NewSessionTicket,
// CertificateRequest) spread over several records. The next Read continues
// where this one stopped. Every other error is final: later Reads return it
// again.
func (c *Conn) Read(p []byte) (int, error) {
	if !c.handshakeDone.Load() {
		return 0, errors.New("tls: Read before the handshake completed")
	}
	if len(p) == 0 {
		return 0, nil
	}
	// A server's RequestClientIdentity reading ahead holds in while it
	// waits for the peer: it stops for this Read.
	if !c.in.TryLock() {
		c.readers.Add(1)
		c.cutAhead()
		c.in.Lock()
		c.readers.Add(-1)
	}
	defer c.in.Unlock()
	if c.readWoken != nil {
		// A request waiting for a Read tries again once this one
		// returns.
		close(c.readWoken)
		c.readWoken = nil
	}
	for len(c.input) == 0 {
		// What is in hand goes before the next record: a handshake
		// message cut short by a transport timeout, which that record
		// continues, or whole messages a server's request reading ahead
		// left as it stopped for this Read (readForAuth), a KeyUpdate
		// among them, whose keys the next record needs.
		for len(c.hand) > 0 {
			if err := c.handlePostHandshakeBounded(); err != nil {
				return 0, err
			}
		}
		if err := c.readRecord(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.input)
	c.input = c.input[n:]
	if len(c.input) == 0 {
		c.input, c.aheadBuf = nil, nil
		c.releaseRawIn()
	}
	if c.readAhead.Held() != 0 {
		// The buffer of data read ahead is held whole until Read took
		// the last of it, then nothing: less is never refused.
		c.readAhead.Hold(c.aheadHeld())
	}
	return n, nil
}

// NonblockingTransport reports true: Conn keeps the promise of
// [backends.NonblockingConn]. A transport timeout in Read is never latched
// (see [Conn.Read]); record bytes stay in rawIn, handshake fragments in
// hand, and no state changes before a whole record is in, so the next Read
// resumes exactly where the timeout fell. Read and Write block on nothing
// but the transport, with one condition on the caller: a client's Read
// calls the ClientIdentity hook when the server requests a certificate
// after the handshake, and that hook must answer without waiting for
// whoever calls Read.
func (c *Conn) NonblockingTransport() bool { return true }

// Write writes application data. A transport error, a timeout included,
// fails the write side for good: a record is either sent whole or the
// connection is broken.
func (c *Conn) Write(p []byte) (int, error) {
	if !c.handshakeDone.Load() {
		return 0, errors.New("tls: Write before the handshake completed")
	}
	c.out.Lock()
	defer c.out.Unlock()
	if c.closeNotifySent {
		return 0, errors.New("tls: write after close_notify")
	}
	// RFC 8446, Section 4.6.3: the KeyUpdate the peer requested goes out
	// before the next application data record.
	if c.keyUpdatePending.Load() {
		if err := c.sendKeyUpdateLocked(false); err != nil {
			return 0, err
		}
	}
	return c.writeRecordLocked(recordTypeApplicationData, p)
}

// CloseWrite sends close_notify (RFC 8446, Section 6.1); the read side
// stays open.
func (c *Conn) CloseWrite() error {
	if !c.handshakeDone.Load() {
		return errors.New("tls: CloseWrite before the handshake completed")
	}
	return c.closeNotify()
}

func (c *Conn) closeNotify() error {
	c.out.Lock()
	defer c.out.Unlock()
	return c.closeNotifyLocked()
}

func (c *Conn) closeNotifyLocked() error {
	if c.closeNotifySent {
		return nil
	}
	c.closeNotifySent = true
	c.conn.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
	err := c.sendAlertLocked(alertCloseNotify)
	c.conn.SetWriteDeadline(time.Time{})
	return err
}

// Close sends close_notify if the handshake completed, then closes the
// transport. The transport's backlog counter is told 0: the connection
// holds nothing of the peer's any more.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return net.ErrClosed
	}
	defer c.backlog.Close()
	defer c.readAhead.Close()
	c.auth.shutdown(net.ErrClosed)
	var alertErr error
	// A Write in flight (perhaps blocked on a peer that does not read)
	// holds out: then Close only breaks the transport, as crypto/tls does,
	// rather than wait for it.
	if c.handshakeDone.Load() && c.out.TryLock() {
		alertErr = c.closeNotifyLocked()
		c.out.Unlock()
	}
	if err := c.conn.Close(); err != nil {
		return err
	}
	return alertErr
}

// KeyUpdate updates this side's write keys and, if requestPeer is set, asks
// the peer to update its own (RFC 8446, Section 4.6.3).
func (c *Conn) KeyUpdate(requestPeer bool) error {
	if !c.handshakeDone.Load() {
		return errors.New("tls: KeyUpdate before the handshake completed")
	}
	c.out.Lock()
	defer c.out.Unlock()
	return c.sendKeyUpdateLocked(requestPeer)
}

func (c *Conn) sendKeyUpdateLocked(requestPeer bool) error {
	msg, err := (&keyUpdateMsg{updateRequested: requestPeer}).encode()
	if err != nil {
		return err
	}
	// Any update of this side's keys answers a pending request; one
	// that comes while this one is written asks for another.
	c.keyUpdatePending.Store(false)
	if _, err := c.writeRecordLocked(recordTypeHandshake, msg); err != nil {
		return err
	}
	next := c.out.suite.nextTrafficSecret(c.out.trafficSecret)
	if err := c.out.setTrafficSecret(c.out.suite, next); err != nil {
		c.out.err = err
		return err
	}
	return nil
}

// handlePostHandshakeBounded reads the post-handshake message in hand
// (for Read or readForAuth) and processes it: past
// maxPostHandshakeMessages since the last application data record it
// fails the read side with unexpected_message instead, as each KeyUpdate
// costs a key derivation for some 30 bytes on the wire.
//
// The count is of whole messages, and survives the Read that made it:
// over a transport that never blocks, each of the host's polls is a Read
// that ends in a timeout. A count that started again at each Read let a
// peer that sent fewer messages than the bound between two polls go on
// without data for ever; one that went up at each Read that continued a
// message cut off a legitimate peer whose large ticket or certificate
// chain came in more than 64 records, each in its own poll. What a peer
// sends within one message is bounded by the size limit of its type
// (checkMessageHeader) and the bytes of records around it by
// maxPostHandshakeBytes (readRecordLocked). An error is latched for the
// read side. The caller holds in.
func (c *Conn) handlePostHandshakeBounded() error {
	msg, err := c.readHandshake()
	if err != nil {
		return c.latchReadError(err)
	}
	if c.postHandshake++; c.postHandshake > maxPostHandshakeMessages {
		c.failRead(c.fail(alertUnexpectedMessage, "tls: too many post-handshake messages"))
		return c.in.err
	}
	if err := c.handlePostHandshakeMessage(msg); err != nil {
		return c.latchReadError(err)
	}
	// The message may have ended a server's wait for a certificate (the
	// answer's Finished): what follows it in its record, the start of
	// another message, counts from now, not from the next record, which
	// a peer need never send.
	if err := c.holdBacklog(); err != nil {
		return c.latchReadError(err)
	}
	return nil
}

// handlePostHandshakeMessage processes msg, one whole message after the
// handshake (RFC 8446, Section 4.6). The caller holds in.
func (c *Conn) handlePostHandshakeMessage(msg []byte) error {
	switch msg[0] {
	case typeKeyUpdate:
		// BoringSSL takes 32 in a row without data (kMaxKeyUpdates).
		if c.keyUpdates++; c.keyUpdates > maxKeyUpdates {
			return c.fail(alertUnexpectedMessage, "tls: too many KeyUpdates without data")
		}
		var ku keyUpdateMsg
		ok, valid := ku.unmarshal(msg)
		if !ok {
			return c.fail(alertDecodeError, "tls: malformed KeyUpdate")
		}
		if !valid {
			return c.fail(alertIllegalParameter, "tls: KeyUpdate with an invalid request_update")
		}
		next := c.in.suite.nextTrafficSecret(c.in.trafficSecret)
		if err := c.setReadSecret(c.in.suite, next); err != nil {
			return err
		}
		// RFC 8446, Section 4.6.3: the receiver of update_requested "MUST
		// send a KeyUpdate of its own ... prior to sending its next
		// Application Data record", so that "an implementation which
		// receives multiple KeyUpdates while it is silent" responds "with
		// a single update". Write sends it.
		if ku.updateRequested {
			// Set without out (Write sends nothing after
			// close_notify): a write waiting for the peer must not
			// hold up this read.
			c.keyUpdatePending.Store(true)
		}
		return nil
	case typeNewSessionTicket:
		if !c.isClient {
			return c.fail(alertUnexpectedMessage, "tls: NewSessionTicket from a client")
		}
		var t newSessionTicketMsg
		if !t.unmarshal(msg) {
			return c.fail(alertDecodeError, "tls: malformed NewSessionTicket")
		}
		// Kept only by clients with a session cache (session_client.go).
		return c.storeTicket(&t)
	default:
		// Post-handshake client authentication, or unexpected_message.
		return c.handleAuthMessage(msg)
	}
}

// ApplicationDataRead is backends.ApplicationDataCounter: the transport
// bytes of the application data records read so far, empty ones included.
func (c *Conn) ApplicationDataRead() int64 { return c.appDataIn.Load() }

// ExportKeyingMaterial returns keying material from the TLS 1.3 exporter
// (RFC 8446, Section 7.5; RFC 5705).
func (c *Conn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if !c.handshakeDone.Load() {
		return nil, errors.New("tls: ExportKeyingMaterial before the handshake completed")
	}
	return c.suite.exportKeyingMaterial(c.exporterSecret, label, context, length)
}

var (
	_ backends.NonblockingConn        = (*Conn)(nil)
	_ backends.ApplicationDataCounter = (*Conn)(nil)
)
