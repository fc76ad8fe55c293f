//go:build wasip1

package wasitls

import (
	"context"
	"errors"
	"net"

	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

// ServerHandshake is a server handshake driven step by step: configure it,
// optionally resume it to the ClientHello (ReceiveClientHello) and
// reconfigure, optionally request a client certificate
// (RequestClientIdentity), then Finish or Abort. It is a thin wrapper over
// the proposal's server-connection and server-handshake.
type ServerHandshake struct {
	conn     *Conn
	hs       tls.ServerHandshake
	consumed bool
}

// NewServerHandshake starts a suspended server handshake over conn, which
// must come from package guest/net; conn's raw streams move to the host.
func NewServerHandshake(conn net.Conn) (*ServerHandshake, error) {
	in, out, err := takeStreams(conn)
	if err != nil {
		return nil, err
	}
	sc := tls.NewServerConnection(in, out)
	hs, err := sc.Accept()
	if err != nil {
		sc.Drop()
		return nil, errors.New("wasitls: the host refused to start a server handshake")
	}
	c := &Conn{transport: conn, cfg: &Config{}, sc: sc, started: true}
	h := &ServerHandshake{conn: c, hs: hs}
	c.pendingSH = h
	return h, nil
}

func (h *ServerHandshake) check() error {
	if h.consumed {
		return errors.New("wasitls: handshake already finished or aborted")
	}
	return nil
}

// ConfigureIdentities sets the certificates to choose from, in preference
// order; the host picks by the ClientHello (SNI, signature algorithms).
func (h *ServerHandshake) ConfigureIdentities(ids []*Identity) error {
	if err := h.check(); err != nil {
		return err
	}
	var buf [stackHandles]tls.PrivateIdentity
	hs := handlesOf(buf[:0], ids)
	if err := h.hs.ConfigureServerIdentities(hs); err != nil {
		return h.conn.hostReason("wasitls: the host refused the server identities")
	}
	return nil
}

// ConfigureALPN sets the protocols to accept, in preference order.
func (h *ServerHandshake) ConfigureALPN(protos []string) error {
	if err := h.check(); err != nil {
		return err
	}
	var buf [stackALPN][]byte
	if err := h.hs.ConfigureALPNIDs(alpnIDs(buf[:0], protos)); err != nil {
		return h.conn.hostReason("wasitls: the host refused the ALPN protocols")
	}
	return nil
}

// ConfigureVersions sets the protocol versions accepted.
func (h *ServerHandshake) ConfigureVersions(v []uint16) error {
	if err := h.check(); err != nil {
		return err
	}
	return extErr(tlsext.ConfigureServerProtocolVersions(h.hs, v))
}

// ConfigureCipherSuites sets the cipher suites accepted.
func (h *ServerHandshake) ConfigureCipherSuites(v []uint16) error {
	if err := h.check(); err != nil {
		return err
	}
	return extErr(tlsext.ConfigureServerCipherSuites(h.hs, v))
}

// ConfigureGroups sets the key-exchange groups accepted.
func (h *ServerHandshake) ConfigureGroups(groups []uint16) error {
	if err := h.check(); err != nil {
		return err
	}
	return extErr(tlsext.ConfigureServerGroups(h.hs, groups))
}

// ConfigureResumption turns session resumption (and ticket issuing) on or
// off for the connection (on by default where the host allows it).
func (h *ServerHandshake) ConfigureResumption(enabled bool) error {
	if err := h.check(); err != nil {
		return err
	}
	return extErr(tlsext.ConfigureServerResumption(h.hs, enabled))
}

// ReceiveClientHello resumes the handshake until the ClientHello arrived.
func (h *ServerHandshake) ReceiveClientHello(ctx context.Context) (*ClientHelloInfo, error) {
	ctx, end, err := h.conn.beginStep(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	return h.receiveClientHello(ctx)
}

// receiveClientHello is ReceiveClientHello with c.hsMu held
// (HandshakeContext's path).
func (h *ServerHandshake) receiveClientHello(ctx context.Context) (*ClientHelloInfo, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	f, err := h.hs.ReceiveClientHello()
	if err != nil {
		return nil, errors.New("wasitls: receive-client-hello refused (called twice, or the handshake is past that point)")
	}
	defer f.Drop()
	if err := await(ctx, f.Subscribe()); err != nil {
		return nil, err
	}
	hello, _, err := f.Get()
	if err != nil {
		return nil, h.conn.failure("client hello", err)
	}
	defer hello.Drop()
	info := &ClientHelloInfo{
		CipherSuites:      hello.CipherSuites(),
		SupportedVersions: tlsext.ClientHelloVersions(hello),
		SupportedCurves:   tlsext.ClientHelloGroups(hello),
		SignatureSchemes:  tlsext.ClientHelloSignatureSchemes(hello),
	}
	info.ServerName, _ = hello.ServerName()
	for _, id := range hello.ALPNIDs() {
		info.SupportedProtos = append(info.SupportedProtos, string(id))
	}
	return info, nil
}

// RequestClientIdentity resumes the handshake asking for a client
// certificate, and returns the chain the client sent once the host
// validated it (nil when the client sent none).
func (h *ServerHandshake) RequestClientIdentity(ctx context.Context) ([][]byte, error) {
	ctx, end, err := h.conn.beginStep(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	return h.requestClientIdentity(ctx)
}

// requestClientIdentity is RequestClientIdentity with c.hsMu held
// (HandshakeContext's path).
func (h *ServerHandshake) requestClientIdentity(ctx context.Context) ([][]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	f, err := h.hs.RequestClientIdentity()
	if err != nil {
		return nil, errors.New("wasitls: request-client-identity refused (called twice, or the handshake is past that point)")
	}
	defer f.Drop()
	if err := await(ctx, f.Subscribe()); err != nil {
		return nil, err
	}
	id, some, _, err := f.Get()
	if err != nil {
		return nil, h.conn.failure("client certificate", err)
	}
	if !some {
		return nil, nil
	}
	return chainOf(id), nil
}

// Finish runs the rest of the handshake and returns the connection. A
// Close from another goroutine cancels it (it then returns an error).
func (h *ServerHandshake) Finish(ctx context.Context) (*Conn, error) {
	ctx, end, err := h.conn.beginStep(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	return h.finish(ctx)
}

// finish is Finish with c.hsMu held (HandshakeContext's path).
func (h *ServerHandshake) finish(ctx context.Context) (*Conn, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	h.consumed = true
	f := tls.ServerHandshakeFinish(h.hs)
	return h.conn, h.conn.finish(ctx, f)
}

// Abort cancels the handshake: the host sends an alert. It returns once the
// alert was written (or ctx is done). A Close from another goroutine does
// not cut it short: Close waits for it (the host bounds the wait), then
// releases the connection.
func (h *ServerHandshake) Abort(ctx context.Context) error {
	end, err := h.conn.beginAbort()
	if err != nil {
		return err
	}
	defer end()
	return h.abort(ctx)
}

// abort is Abort with c.hsMu held (HandshakeContext's path).
func (h *ServerHandshake) abort(ctx context.Context) error {
	if err := h.check(); err != nil {
		return err
	}
	h.consumed = true
	err := await(ctx, tls.ServerHandshakeAbort(h.hs))
	h.conn.handshakeErr = errAborted
	return err
}

// Conn returns the connection the handshake belongs to.
func (h *ServerHandshake) Conn() *Conn { return h.conn }
