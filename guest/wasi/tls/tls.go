//go:build wasip1

package tls

import (
	"errors"
	"unsafe"

	"github.com/wasitls/wasitls/cabi/witval"
	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/io/streams"
	wtls "github.com/wasitls/wasitls/guest/wasi/bindings/wasi/tls/tls"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// ProtocolVersion is a TLS protocol version code point (0x0303, 0x0304).
type ProtocolVersion = uint16

// CipherSuite is an IANA TLS cipher suite code point.
type CipherSuite = uint16

// Errors for the error cases the proposal gives no payload.
var (
	// ErrFailed is the error case of a result<T> without an error type:
	// the host refused the call (wrong order, called twice, handshake too
	// far, unparsable identity) or the operation failed.
	ErrFailed = errors.New("wasi:tls: operation failed")
	// ErrConsumed is returned by a future's Get after its value was taken.
	ErrConsumed = errors.New("wasi:tls: future value already taken")
)

// failed maps the error case of a result without an error type to
// ErrFailed.
func failed(err error) error {
	if err != nil {
		return ErrFailed
	}
	return nil
}

// future splits a future's get, option<result<result<T>>>: ready is false
// while pending; ErrConsumed once taken, ErrFailed for a failure.
func future[T any](r witval.Result[witval.Result[T, witval.Unit], witval.Unit], ready bool) (T, bool, error) {
	var zero T
	if !ready {
		return zero, false, nil
	}
	inner, _, consumed := r.Get()
	if consumed {
		return zero, true, ErrConsumed
	}
	v, _, bad := inner.Get()
	if bad {
		return zero, true, ErrFailed
	}
	return v, true, nil
}

// borrows lends the handles of ids for a call: owned and borrowed handles
// share their representation.
func borrows(ids []PrivateIdentity) []wtls.PrivateIdentityBorrow {
	return unsafe.Slice((*wtls.PrivateIdentityBorrow)(unsafe.SliceData(ids)), len(ids))
}

// PublicIdentity is the resource public-identity: an X.509 chain.
// ExportX509Chain returns the DER certificates, end entity first; Drop drops
// the handle.
type PublicIdentity = wtls.PublicIdentity

// PrivateIdentity is the resource private-identity: a private key with its
// certificate chain. The key never flows back to the guest.
//
// PublicIdentity returns the identity's certificate chain; Drop drops the
// handle.
type PrivateIdentity = wtls.PrivateIdentity

// ParsePrivateIdentity parses a private key and its chain.
//
//	parse: static func(private-key: list<u8>, x509-chain: list<list<u8>>) -> result<private-identity>;
func ParsePrivateIdentity(privateKey []byte, chain [][]byte) (PrivateIdentity, error) {
	id, err := wtls.PrivateIdentityParse(privateKey, chain)
	return id, failed(err)
}

// ClientConnection is the resource client-connection.
type ClientConnection uint32

func (c ClientConnection) b() wtls.ClientConnectionBorrow { return wtls.ClientConnectionBorrow(c) }

// NewClientConnection wraps raw TLS streams; it takes ownership of both.
//
//	constructor(input: input-stream, output: output-stream);
func NewClientConnection(in io.InputStream, out io.OutputStream) ClientConnection {
	return ClientConnection(wtls.NewClientConnection(streams.InputStream(in), streams.OutputStream(out)))
}

// Connect creates the suspended handshake (a child of c); at most once.
//
//	connect: func(server-name: string) -> result<client-handshake>;
func (c ClientConnection) Connect(serverName string) (ClientHandshake, error) {
	h, err := c.b().Connect(serverName)
	return ClientHandshake(h), failed(err)
}

// ServerName returns the name passed to Connect.
//
//	server-name: func() -> option<string>;
func (c ClientConnection) ServerName() (string, bool) {
	return c.b().ServerName()
}

// ALPNID returns the negotiated ALPN protocol.
//
//	alpn-id: func() -> option<alpn-id>;
func (c ClientConnection) ALPNID() ([]byte, bool) {
	return c.b().ALPNID()
}

// ClientIdentity returns the identity the client presented.
//
//	client-identity: func() -> option<private-identity>;
func (c ClientConnection) ClientIdentity() (PrivateIdentity, bool) {
	return c.b().ClientIdentity()
}

// ServerIdentity returns the server's verified chain.
//
//	server-identity: func() -> option<public-identity>;
func (c ClientConnection) ServerIdentity() (PublicIdentity, bool) {
	return c.b().ServerIdentity()
}

// ProtocolVersion returns the negotiated version.
//
//	protocol-version: func() -> option<protocol-version>;
func (c ClientConnection) ProtocolVersion() (ProtocolVersion, bool) {
	return c.b().ProtocolVersion()
}

// CipherSuite returns the negotiated cipher suite.
//
//	cipher-suite: func() -> option<cipher-suite>;
func (c ClientConnection) CipherSuite() (CipherSuite, bool) {
	return c.b().CipherSuite()
}

// Drop drops the handle; children (handshake, futures, streams) first.
func (c ClientConnection) Drop() { wtls.ClientConnection(c).Drop() }

// ClientHandshake is the resource client-handshake.
type ClientHandshake uint32

func (h ClientHandshake) b() wtls.ClientHandshakeBorrow { return wtls.ClientHandshakeBorrow(h) }

// ConfigureALPNIDs sets the ALPN protocols to offer, in preference order.
//
//	configure-alpn-ids: func(value: list<alpn-id>) -> result;
func (h ClientHandshake) ConfigureALPNIDs(ids [][]byte) error {
	return failed(h.b().ConfigureALPNIDs(ids))
}

// VerifyServerIdentity resumes the handshake up to the server's certificate.
//
//	verify-server-identity: func() -> result<future-public-identity>;
func (h ClientHandshake) VerifyServerIdentity() (FuturePublicIdentity, error) {
	f, err := h.b().VerifyServerIdentity()
	return FuturePublicIdentity(f), failed(err)
}

// ReceiveClientIdentityRequest resumes the handshake up to a certificate
// request from the server (or past the point where one can come).
//
//	receive-client-identity-request: func() -> result<future-client-identity-request>;
func (h ClientHandshake) ReceiveClientIdentityRequest() (FutureClientIdentityRequest, error) {
	f, err := h.b().ReceiveClientIdentityRequest()
	return FutureClientIdentityRequest(f), failed(err)
}

// ClientHandshakeFinish consumes h and runs the rest of the handshake.
//
//	finish: static func(this: client-handshake) -> future-streams;
func ClientHandshakeFinish(h ClientHandshake) FutureStreams {
	return FutureStreams(wtls.ClientHandshakeFinish(wtls.ClientHandshake(h)))
}

// ClientHandshakeAbort consumes h and aborts with an alert; the pollable is
// ready once the alert was written.
//
//	abort: static func(this: client-handshake) -> pollable;
func ClientHandshakeAbort(h ClientHandshake) io.Pollable {
	return wtls.ClientHandshakeAbort(wtls.ClientHandshake(h))
}

// Drop drops the handle.
func (h ClientHandshake) Drop() { wtls.ClientHandshake(h).Drop() }

// ServerConnection is the resource server-connection.
type ServerConnection uint32

func (c ServerConnection) b() wtls.ServerConnectionBorrow { return wtls.ServerConnectionBorrow(c) }

// NewServerConnection wraps raw TLS streams; it takes ownership of both.
//
//	constructor(input: input-stream, output: output-stream);
func NewServerConnection(in io.InputStream, out io.OutputStream) ServerConnection {
	return ServerConnection(wtls.NewServerConnection(streams.InputStream(in), streams.OutputStream(out)))
}

// Accept creates the suspended handshake (a child of c); at most once.
//
//	accept: func() -> result<server-handshake>;
func (c ServerConnection) Accept() (ServerHandshake, error) {
	h, err := c.b().Accept()
	return ServerHandshake(h), failed(err)
}

// RequestClientIdentity requests post-handshake client authentication.
//
//	request-client-identity: func() -> result<future-public-identity>;
func (c ServerConnection) RequestClientIdentity() (FuturePublicIdentity, error) {
	f, err := c.b().RequestClientIdentity()
	return FuturePublicIdentity(f), failed(err)
}

// ServerName returns the SNI the client sent.
//
//	server-name: func() -> option<string>;
func (c ServerConnection) ServerName() (string, bool) {
	return c.b().ServerName()
}

// ALPNID returns the negotiated ALPN protocol.
//
//	alpn-id: func() -> option<alpn-id>;
func (c ServerConnection) ALPNID() ([]byte, bool) {
	return c.b().ALPNID()
}

// ClientIdentity returns the client's accepted chain.
//
//	client-identity: func() -> option<public-identity>;
func (c ServerConnection) ClientIdentity() (PublicIdentity, bool) {
	return c.b().ClientIdentity()
}

// ServerIdentity returns the identity the server presented.
//
//	server-identity: func() -> option<private-identity>;
func (c ServerConnection) ServerIdentity() (PrivateIdentity, bool) {
	return c.b().ServerIdentity()
}

// ProtocolVersion returns the negotiated version.
//
//	protocol-version: func() -> option<protocol-version>;
func (c ServerConnection) ProtocolVersion() (ProtocolVersion, bool) {
	return c.b().ProtocolVersion()
}

// CipherSuite returns the negotiated cipher suite.
//
//	cipher-suite: func() -> option<cipher-suite>;
func (c ServerConnection) CipherSuite() (CipherSuite, bool) {
	return c.b().CipherSuite()
}

// Drop drops the handle; children first.
func (c ServerConnection) Drop() { wtls.ServerConnection(c).Drop() }

// ServerHandshake is the resource server-handshake.
type ServerHandshake uint32

func (h ServerHandshake) b() wtls.ServerHandshakeBorrow { return wtls.ServerHandshakeBorrow(h) }

// ConfigureALPNIDs sets the ALPN protocols to accept, in preference order.
//
//	configure-alpn-ids: func(value: list<alpn-id>) -> result;
func (h ServerHandshake) ConfigureALPNIDs(ids [][]byte) error {
	return failed(h.b().ConfigureALPNIDs(ids))
}

// ConfigureServerIdentities sets the identities to choose from.
//
//	configure-server-identities: func(value: list<borrow<private-identity>>) -> result;
func (h ServerHandshake) ConfigureServerIdentities(ids []PrivateIdentity) error {
	return failed(h.b().ConfigureServerIdentities(borrows(ids)))
}

// ReceiveClientHello resumes the handshake up to the ClientHello.
//
//	receive-client-hello: func() -> result<future-client-hello>;
func (h ServerHandshake) ReceiveClientHello() (FutureClientHello, error) {
	f, err := h.b().ReceiveClientHello()
	return FutureClientHello(f), failed(err)
}

// RequestClientIdentity resumes the handshake requesting a client
// certificate; the future resolves with the validated chain, if any.
//
//	request-client-identity: func() -> result<future-public-identity>;
func (h ServerHandshake) RequestClientIdentity() (FuturePublicIdentity, error) {
	f, err := h.b().RequestClientIdentity()
	return FuturePublicIdentity(f), failed(err)
}

// ServerHandshakeFinish consumes h and runs the rest of the handshake.
//
//	finish: static func(this: server-handshake) -> future-streams;
func ServerHandshakeFinish(h ServerHandshake) FutureStreams {
	return FutureStreams(wtls.ServerHandshakeFinish(wtls.ServerHandshake(h)))
}

// ServerHandshakeAbort consumes h and aborts with an alert.
//
//	abort: static func(this: server-handshake) -> pollable;
func ServerHandshakeAbort(h ServerHandshake) io.Pollable {
	return wtls.ServerHandshakeAbort(wtls.ServerHandshake(h))
}

// Drop drops the handle.
func (h ServerHandshake) Drop() { wtls.ServerHandshake(h).Drop() }

// ClientHello is the resource client-hello. ServerName returns the SNI,
// ALPNIDs the offered ALPN protocols, CipherSuites the offered cipher
// suites; Drop drops the handle.
type ClientHello = wtls.ClientHello

// ClientIdentityRequest is the resource client-identity-request; dropping it
// is offering no certificate.
type ClientIdentityRequest = wtls.ClientIdentityRequest

// ClientIdentityRequestRespond consumes r and offers ids.
//
//	respond: static func(this: client-identity-request, identities: list<borrow<private-identity>>);
func ClientIdentityRequestRespond(r ClientIdentityRequest, ids []PrivateIdentity) {
	wtls.ClientIdentityRequestRespond(r, borrows(ids))
}

// FutureStreams is the resource future-streams.
type FutureStreams uint32

func (f FutureStreams) b() wtls.FutureStreamsBorrow { return wtls.FutureStreamsBorrow(f) }

// Subscribe returns a pollable ready when the future resolved.
//
//	subscribe: func() -> pollable;
func (f FutureStreams) Subscribe() io.Pollable { return f.b().Subscribe() }

// Get returns the cleartext streams; ready is false while pending.
//
//	get: func() -> option<result<result<tuple<input-stream, output-stream>>>>;
func (f FutureStreams) Get() (in io.InputStream, out io.OutputStream, ready bool, err error) {
	t, ready, err := future(f.b().Get())
	return io.InputStream(t.F0), io.OutputStream(t.F1), ready, err
}

// Drop drops the handle.
func (f FutureStreams) Drop() { wtls.FutureStreams(f).Drop() }

// FutureClientHello is the resource future-client-hello.
type FutureClientHello uint32

func (f FutureClientHello) b() wtls.FutureClientHelloBorrow { return wtls.FutureClientHelloBorrow(f) }

// Subscribe returns a pollable ready when the future resolved.
//
//	subscribe: func() -> pollable;
func (f FutureClientHello) Subscribe() io.Pollable {
	return f.b().Subscribe()
}

// Get returns the ClientHello; ready is false while pending.
//
//	get: func() -> option<result<result<client-hello>>>;
func (f FutureClientHello) Get() (hello ClientHello, ready bool, err error) {
	return future(f.b().Get())
}

// Drop drops the handle.
func (f FutureClientHello) Drop() { wtls.FutureClientHello(f).Drop() }

// FuturePublicIdentity is the resource future-public-identity.
type FuturePublicIdentity uint32

func (f FuturePublicIdentity) b() wtls.FuturePublicIdentityBorrow {
	return wtls.FuturePublicIdentityBorrow(f)
}

// Subscribe returns a pollable ready when the future resolved.
//
//	subscribe: func() -> pollable;
func (f FuturePublicIdentity) Subscribe() io.Pollable {
	return f.b().Subscribe()
}

// Get returns the peer identity (some is false for none); ready is false
// while pending.
//
//	get: func() -> option<result<result<option<public-identity>>>>;
func (f FuturePublicIdentity) Get() (id PublicIdentity, some, ready bool, err error) {
	o, ready, err := future(f.b().Get())
	id, some = o.Get()
	return id, some, ready, err
}

// Drop drops the handle.
func (f FuturePublicIdentity) Drop() { wtls.FuturePublicIdentity(f).Drop() }

// FutureClientIdentityRequest is the resource future-client-identity-request.
type FutureClientIdentityRequest uint32

func (f FutureClientIdentityRequest) b() wtls.FutureClientIdentityRequestBorrow {
	return wtls.FutureClientIdentityRequestBorrow(f)
}

// Subscribe returns a pollable ready when the future resolved.
//
//	subscribe: func() -> pollable;
func (f FutureClientIdentityRequest) Subscribe() io.Pollable {
	return f.b().Subscribe()
}

// Get returns the server's request (some is false when the server sent
// none); ready is false while pending.
//
//	get: func() -> option<result<result<option<client-identity-request>>>>;
func (f FutureClientIdentityRequest) Get() (req ClientIdentityRequest, some, ready bool, err error) {
	o, ready, err := future(f.b().Get())
	req, some = o.Get()
	return req, some, ready, err
}

// Drop drops the handle.
func (f FutureClientIdentityRequest) Drop() { wtls.FutureClientIdentityRequest(f).Drop() }
