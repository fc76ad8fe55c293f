//go:build wasip1

package wasitls

import (
	"context"
	"errors"
	"fmt"
	"net"
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

// ClientHandshake is a client handshake driven step by step: configure it,
// optionally resume it to the server's certificate
// (VerifyServerIdentity) and to a certificate request
// (ReceiveClientIdentityRequest), in that order, then Finish or Abort. It
// is a thin wrapper over the proposal's client-connection and
// client-handshake.
type ClientHandshake struct {
	conn     *Conn
	hs       tls.ClientHandshake
	consumed bool
}

// NewClientHandshake starts a suspended client handshake for serverName
// over conn, which must come from package guest/net; conn's raw streams
// move to the host.
func NewClientHandshake(conn net.Conn, serverName string) (*ClientHandshake, error) {
	in, out, err := takeStreams(conn)
	if err != nil {
		return nil, err
	}
	cc := tls.NewClientConnection(in, out)
	hs, err := cc.Connect(serverName)
	if err != nil {
		cc.Drop()
		return nil, errors.New("wasitls: the host refused to start a client handshake")
	}
	c := &Conn{transport: conn, cfg: &Config{}, isClient: true, cc: cc, serverName: serverName, started: true}
	h := &ClientHandshake{conn: c, hs: hs}
	c.pendingCH = h
	return h, nil
}

func (h *ClientHandshake) check() error {
	if h.consumed {
		return errors.New("wasitls: handshake already finished or aborted")
	}
	return nil
}

// ConfigureALPN sets the protocols to offer, in preference order.
func (h *ClientHandshake) ConfigureALPN(protos []string) error {
	if err := h.check(); err != nil {
		return err
	}
	var buf [stackALPN][]byte
	if err := h.hs.ConfigureALPNIDs(alpnIDs(buf[:0], protos)); err != nil {
		return h.conn.hostReason("wasitls: the host refused the ALPN protocols (handshake already resumed?)")
	}
	return nil
}

// ConfigureVersions sets the protocol versions allowed.
func (h *ClientHandshake) ConfigureVersions(v []uint16) error {
	if err := h.check(); err != nil {
		return err
	}
	return extErr(tlsext.ConfigureClientProtocolVersions(h.hs, v))
}

// ConfigureCipherSuites sets the cipher suites to offer.
func (h *ClientHandshake) ConfigureCipherSuites(v []uint16) error {
	if err := h.check(); err != nil {
		return err
	}
	return extErr(tlsext.ConfigureClientCipherSuites(h.hs, v))
}

// ConfigureGroups sets the key-exchange groups to offer; the first
// keyShares (at least 1) get a key share.
func (h *ClientHandshake) ConfigureGroups(groups []uint16, keyShares int) error {
	if err := h.check(); err != nil {
		return err
	}
	keyShares = max(1, min(keyShares, 255))
	return extErr(tlsext.ConfigureClientGroups(h.hs, groups, uint8(keyShares)))
}

// ConfigureResumption turns session resumption on or off for the
// connection (on by default where the host allows it).
func (h *ClientHandshake) ConfigureResumption(enabled bool) error {
	if err := h.check(); err != nil {
		return err
	}
	return extErr(tlsext.ConfigureClientResumption(h.hs, enabled))
}

// VerifyServerIdentity resumes the handshake until the server's certificate
// has arrived and passed the host's validation, and returns the chain (DER,
// leaf first). The handshake is suspended again: Abort to reject it.
func (h *ClientHandshake) VerifyServerIdentity(ctx context.Context) ([][]byte, error) {
	ctx, end, err := h.conn.beginStep(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	return h.verifyServerIdentity(ctx)
}

// verifyServerIdentity is VerifyServerIdentity with c.hsMu held
// (HandshakeContext's path).
func (h *ClientHandshake) verifyServerIdentity(ctx context.Context) ([][]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	f, err := h.hs.VerifyServerIdentity()
	if err != nil {
		return nil, errors.New("wasitls: verify-server-identity refused (called twice, or the handshake is past that point)")
	}
	defer f.Drop()
	if err := await(ctx, f.Subscribe()); err != nil {
		return nil, err
	}
	id, some, _, err := f.Get()
	if err != nil {
		return nil, h.conn.failure("server certificate", err)
	}
	if !some {
		return nil, nil
	}
	return chainOf(id), nil
}

// ClientIdentityRequest is a server's request for a client certificate;
// Respond (or Decline) exactly once. The request is a child of the
// handshake: a Close of the connection, from any goroutine, declines it
// first (the host refuses to drop a handshake under a live request), and
// its methods do nothing after that. They take the connection's closeMu,
// not hsMu, which a Finish waiting for the answer holds.
type ClientIdentityRequest struct {
	conn *Conn
	r    tls.ClientIdentityRequest
	done bool
}

// Info returns what the server asked for: acceptable CAs and signature
// schemes. It must be called before Respond or Decline.
func (r *ClientIdentityRequest) Info() *CertificateRequestInfo {
	r.conn.closeMu.Lock()
	defer r.conn.closeMu.Unlock()
	if r.done {
		return &CertificateRequestInfo{}
	}
	return &CertificateRequestInfo{
		AcceptableCAs:    tlsext.ClientIdentityRequestAuthorities(r.r),
		SignatureSchemes: tlsext.ClientIdentityRequestSignatureSchemes(r.r),
	}
}

// Respond offers ids; the host picks one the server accepts, if any.
func (r *ClientIdentityRequest) Respond(ids []*Identity) {
	r.conn.closeMu.Lock()
	defer r.conn.closeMu.Unlock()
	if r.done {
		return
	}
	r.done = true
	var buf [stackHandles]tls.PrivateIdentity
	tls.ClientIdentityRequestRespond(r.r, handlesOf(buf[:0], ids))
}

// Decline offers no certificate.
func (r *ClientIdentityRequest) Decline() {
	r.conn.closeMu.Lock()
	defer r.conn.closeMu.Unlock()
	r.decline()
}

// decline is Decline with c.closeMu held; Close calls it too.
func (r *ClientIdentityRequest) decline() {
	if !r.done {
		r.done = true
		r.r.Drop()
	}
}

// ReceiveClientIdentityRequest resumes the handshake until the server asks
// for a client certificate, or goes past the point where it could (then
// the request is nil).
func (h *ClientHandshake) ReceiveClientIdentityRequest(ctx context.Context) (*ClientIdentityRequest, error) {
	ctx, end, err := h.conn.beginStep(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	return h.receiveClientIdentityRequest(ctx)
}

// receiveClientIdentityRequest is ReceiveClientIdentityRequest with c.hsMu
// held (HandshakeContext's path).
func (h *ClientHandshake) receiveClientIdentityRequest(ctx context.Context) (*ClientIdentityRequest, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	f, err := h.hs.ReceiveClientIdentityRequest()
	if err != nil {
		return nil, errors.New("wasitls: receive-client-identity-request refused (called twice, or the handshake is past that point)")
	}
	defer f.Drop()
	if err := await(ctx, f.Subscribe()); err != nil {
		return nil, err
	}
	req, some, _, err := f.Get()
	if err != nil {
		return nil, h.conn.failure("certificate request", err)
	}
	if !some {
		return nil, nil
	}
	h.conn.pendingReq = &ClientIdentityRequest{conn: h.conn, r: req}
	return h.conn.pendingReq, nil
}

// Finish runs the rest of the handshake and returns the connection. A
// Close from another goroutine cancels it (it then returns an error).
func (h *ClientHandshake) Finish(ctx context.Context) (*Conn, error) {
	ctx, end, err := h.conn.beginStep(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	return h.finish(ctx)
}

// finish is Finish with c.hsMu held (HandshakeContext's path).
func (h *ClientHandshake) finish(ctx context.Context) (*Conn, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	h.consumed = true
	f := tls.ClientHandshakeFinish(h.hs)
	return h.conn, h.conn.finish(ctx, f)
}

// Abort cancels the handshake: the host sends an alert. It returns once the
// alert was written (or ctx is done). A Close from another goroutine does
// not cut it short: Close waits for it (the host bounds the wait), then
// releases the connection.
func (h *ClientHandshake) Abort(ctx context.Context) error {
	end, err := h.conn.beginAbort()
	if err != nil {
		return err
	}
	defer end()
	return h.abort(ctx)
}

// abort is Abort with c.hsMu held (HandshakeContext's path).
func (h *ClientHandshake) abort(ctx context.Context) error {
	if err := h.check(); err != nil {
		return err
	}
	h.consumed = true
	err := await(ctx, tls.ClientHandshakeAbort(h.hs))
	h.conn.handshakeErr = errAborted
	return err
}

// Conn returns the connection the handshake belongs to (usable after
// Finish).
func (h *ClientHandshake) Conn() *Conn { return h.conn }

// alpnIDs appends protos to ids as the byte strings the host reads, and
// returns it. Each aliases its string's bytes, not a copy: the host only
// reads the list during the call (a borrowed parameter). Callers pass an
// array of stackALPN on their frame, which holds the usual protocols (h2,
// http/1.1) with no allocation.
func alpnIDs(ids [][]byte, protos []string) [][]byte {
	for _, p := range protos {
		ids = append(ids, unsafe.Slice(unsafe.StringData(p), len(p)))
	}
	return ids
}

// stackALPN is the size of the array a caller of alpnIDs keeps on its
// frame: small, since the handshake's stack is reserved by its size
// (reserveStack).
const stackALPN = 2

func extErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("wasitls: %w", err)
}
