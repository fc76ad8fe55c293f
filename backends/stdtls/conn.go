package stdtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/wasitls/wasitls/backends"
)

// conn is a backends.Conn over a tls.Conn.
//
// crypto/tls holds its handshake mutex for the whole handshake, so State
// never calls into the tls.Conn while a handshake may run: hooks record what
// they learn in state, and a successful Handshake replaces it with the final
// ConnectionState.
type conn struct {
	tls      *tls.Conn
	raw      *transport // rawT
	isClient bool
	client   *backends.ClientConfig // hooks, client side
	server   *backends.ServerConfig // hooks, server side

	// What a connection needs for its life, allocated with it: the
	// transport, and on the client side crypto/tls's config (its own per
	// connection: the hooks and the server name are the connection's) and
	// the session cache's adapter.
	rawT  transport
	cfg   tls.Config
	cache sessionCache

	// once flags, one per hook: hooks run at most once per handshake.
	calledVerify, calledIdentity, calledHello, calledNoRequest atomic.Bool
	// countedPeer: the parsed peer chain was counted (countPeerHeap).
	countedPeer atomic.Bool

	done atomic.Bool // the handshake completed successfully

	mu    sync.Mutex
	state backends.State
	// hctx is the context of the running handshake, for hooks crypto/tls
	// calls without one (VerifyConnection).
	hctx context.Context
	// stored is the session the handshake stored in the client session
	// cache, which learns the handshake's version and group once it
	// completed (see clientSession).
	stored *clientSession
	// ticketID is the identity of the TLS 1.2 ticket a server opened,
	// the connection's once it resumed (openedTicket).
	ticketID *backends.Identity
}

var _ backends.Conn = (*conn)(nil)

func newConn(transportConn net.Conn, isClient bool) *conn {
	c := &conn{isClient: isClient}
	c.rawT.Conn = transportConn
	c.rawT.counter.SetCounter(transportConn)
	c.raw = &c.rawT
	return c
}

func (c *conn) ctx() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hctx != nil {
		return c.hctx
	}
	return context.Background()
}

// Handshake runs the handshake. Cancelling ctx closes the transport (see the
// package documentation for which alert the peer sees).
func (c *conn) Handshake(ctx context.Context) error {
	c.mu.Lock()
	if c.hctx == nil {
		c.hctx = ctx
	}
	c.mu.Unlock()
	if err := c.tls.HandshakeContext(ctx); err != nil {
		// crypto/tls leaves the transport open after a failed handshake,
		// and sends no alert at all for some failures (an error from
		// GetClientCertificate in TLS 1.3): a FIN after whatever alert was
		// sent tells the peer without risking a reset that could discard
		// the alert.
		c.raw.closeWrite()
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			return fmt.Errorf("stdtls: handshake: %w (%w)", err, ctxErr)
		}
		return fmt.Errorf("stdtls: handshake: %w", err)
	}
	if c.done.Load() {
		return nil
	}
	// crypto/tls does not tell whether a CertificateRequest arrived; by now
	// it would have called GetClientCertificate (RFC 8446, Section 4.3.2:
	// the request precedes the server's Finished).
	if c.isClient && c.client.NoClientIdentityRequest != nil &&
		!c.calledIdentity.Load() && c.calledNoRequest.CompareAndSwap(false, true) {
		c.client.NoClientIdentityRequest(ctx)
	}
	cs := c.tls.ConnectionState()
	c.mu.Lock()
	c.recordLocked(&cs)
	c.state.HandshakeComplete = true
	if c.stored != nil {
		c.stored.made.Store(uint32(c.state.Version)<<16 | uint32(c.state.Group))
		c.stored = nil
	}
	c.mu.Unlock()
	c.raw.established.Store(true)
	c.done.Store(true)
	return nil
}

// recordLocked copies what cs knows into c.state.
func (c *conn) recordLocked(cs *tls.ConnectionState) {
	c.state.Version = cs.Version
	c.state.CipherSuite = cs.CipherSuite
	c.state.Group = uint16(cs.CurveID)
	c.state.ALPN = cs.NegotiatedProtocol
	if cs.ServerName != "" {
		c.state.ServerName = cs.ServerName
	}
	if !sameChain(c.state.PeerChain, cs.PeerCertificates) {
		c.state.PeerChain = rawChain(cs.PeerCertificates)
	}
	c.state.DidResume = cs.DidResume
	c.state.OCSPResponse = cs.OCSPResponse
	if cs.DidResume && c.ticketID != nil {
		c.state.LocalIdentity = c.ticketID
	}
}

func (c *conn) record(cs *tls.ConnectionState) {
	c.mu.Lock()
	c.recordLocked(cs)
	c.mu.Unlock()
}

// countPeerHeap reports what the peer's chain, which crypto/tls parsed
// and keeps for the connection's life, holds on the heap beside its DER
// to the transport, if it counts it (backends.PeerHeapCounter), once a
// handshake: a chain of certificates naming thousands of one-letter URIs
// holds some 40 times its bytes. crypto/tls shares a server's parsed
// certificate between the connections that received it (its client cert
// cache): each counts it, over, never under. A client walks a chain once
// while crypto/tls keeps it parsed (peerheap.go). So does the list of
// signed certificate timestamps a server stapled to its leaf, which
// crypto/tls keeps for the connection's life too (sctHeapBytes).
func (c *conn) countPeerHeap(cs *tls.ConnectionState) error {
	counter, ok := c.rawT.Conn.(backends.PeerHeapCounter)
	if !ok || len(cs.PeerCertificates) == 0 || !c.countedPeer.CompareAndSwap(false, true) {
		return nil
	}
	if c.client != nil {
		return counter.CountPeerHeap(peerHeapMemo.chainHeapBytes(cs.PeerCertificates) + sctHeapBytes(cs.SignedCertificateTimestamps))
	}
	return counter.CountPeerHeap(backends.HeapBytes(cs.PeerCertificates, rawChain(cs.PeerCertificates)...))
}

// sctHeapBytes is what crypto/tls holds of scts, a server's signed
// certificate timestamps, beside their bytes: a slice header each. The
// bytes lie in the Certificate message (TLS 1.3) or ServerHello (TLS 1.2)
// that the handshake read and counted, which they keep. A server may
// staple some 21,000 timestamps of a byte (63 KB of the leaf's entry),
// 500 KiB of headers; before, they went uncounted: a guest under a
// 1 MiB limit kept 15 of 24 such connections, 10.6 MiB
// (TestGuestPeerSCTsCount in runtime/tlshost).
func sctHeapBytes(scts [][]byte) int64 {
	return int64(cap(scts)) * int64(unsafe.Sizeof([]byte(nil)))
}

func (c *conn) setLocal(id *backends.Identity) {
	c.mu.Lock()
	c.state.LocalIdentity = id
	c.mu.Unlock()
}

func rawChain(certs []*x509.Certificate) [][]byte {
	if len(certs) == 0 {
		return nil
	}
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out
}

// sameChain reports whether chain is rawChain(certs) already: the final
// ConnectionState of a handshake names the certificates its
// VerifyConnection hook recorded.
func sameChain(chain [][]byte, certs []*x509.Certificate) bool {
	if len(chain) != len(certs) || len(chain) == 0 {
		return false
	}
	for i, c := range certs {
		if len(chain[i]) != len(c.Raw) || len(c.Raw) == 0 || &chain[i][0] != &c.Raw[0] {
			return false
		}
	}
	return true
}

var errTooEarly = errors.New("stdtls: connection used before its handshake completed")

// Read reads application data: io.EOF after close_notify, an error wrapping
// io.ErrUnexpectedEOF when the transport closed without it.
func (c *conn) Read(p []byte) (int, error) {
	if !c.done.Load() {
		return 0, errTooEarly
	}
	n, err := c.tls.Read(p)
	if n > 0 {
		c.raw.dataRead()
	}
	switch {
	case err == nil:
		// Nothing to look at: isLocalAlert's errors.As would move its
		// target to the heap on every Read.
	case err == io.EOF && c.raw.eof.Load():
		// crypto/tls accepts an EOF at a record boundary as a clean close;
		// RFC 8446, Section 6.1 makes it a truncation.
		err = fmt.Errorf("stdtls: connection closed without close_notify (truncated): %w", io.ErrUnexpectedEOF)
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("stdtls: connection closed in the middle of a record (truncated): %w", err)
	case isLocalAlert(err, "tls: bad record MAC"):
		// crypto/tls (Go 1.26) answers a KeyUpdate asking for one by
		// writing its own; when that write fails it returns without
		// updating its read keys, and the peer's next record, under its
		// new keys, fails here (see transport.firstWriteErr).
		if werr := c.raw.writeFailedBefore(); werr != nil {
			err = fmt.Errorf("stdtls: writing to the peer failed (%v); crypto/tls then answers no KeyUpdate and stops following the peer's keys, so its records after a KeyUpdate fail: %w", werr, err)
		}
	}
	return n, err
}

// isLocalAlert reports whether err is the error crypto/tls returns after
// sending the alert whose text is desc.
func isLocalAlert(err error, desc string) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "local error" && oe.Err != nil && oe.Err.Error() == desc
}

// NonblockingTransport implements backends.NonblockingConn: crypto/tls
// returns a transport read error that is a temporary net.Error as it is and
// keeps the partial record for the next Read (only other errors are
// latched), and its Read and Write block only in the transport.
func (c *conn) NonblockingTransport() bool { return true }

// Write writes application data.
func (c *conn) Write(p []byte) (int, error) {
	if !c.done.Load() {
		return 0, errTooEarly
	}
	return c.tls.Write(p)
}

// CloseWrite sends close_notify (RFC 8446, Section 6.1) and half-closes the
// transport when it supports that.
func (c *conn) CloseWrite() error {
	if !c.done.Load() {
		return errTooEarly
	}
	if err := c.tls.CloseWrite(); err != nil {
		return fmt.Errorf("stdtls: close_notify: %w", err)
	}
	c.raw.shut.Store(true)
	c.raw.closeWrite()
	return nil
}

// Close sends close_notify if the handshake completed, and closes the
// transport. Closing during a handshake unblocks it. The transport's
// backlog counter is told 0: the connection holds nothing of the peer's
// any more.
func (c *conn) Close() error {
	err := c.tls.Close()
	c.raw.counter.Close()
	return err
}

// State reports what was negotiated so far.
func (c *conn) State() backends.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state
	s.PeerChain = slices.Clone(s.PeerChain)
	return s
}

// RequestClientIdentity fails: crypto/tls has no TLS 1.3 post-handshake
// client authentication.
func (c *conn) RequestClientIdentity(context.Context) ([][]byte, error) {
	if c.isClient {
		return nil, errors.New("stdtls: RequestClientIdentity called on a client connection")
	}
	return nil, fmt.Errorf("stdtls: post-handshake client authentication (RFC 8446, Section 4.6.2) is not implemented by crypto/tls: %w", backends.ErrNotSupported)
}
