//go:build wasip1

package tls

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
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

func liftHandleResult() (uint32, error) {
	r := *(*resultHandleMem)(cabi.Ret())
	if r.Tag != 0 {
		return 0, ErrFailed
	}
	return r.Handle, nil
}

func liftHandleOption() (uint32, bool) {
	r := *(*resultHandleMem)(cabi.Ret())
	return r.Handle, r.Tag != 0
}

func liftOptionString() (string, bool) {
	r := *(*optionListMem)(cabi.Ret())
	if r.IsSome == 0 {
		cabi.Unpin()
		return "", false
	}
	s := string(cabi.Bytes(r.List.Ptr, r.List.Len))
	cabi.Unpin()
	return s, true
}

func liftOptionBytes() ([]byte, bool) {
	r := *(*optionListMem)(cabi.Ret())
	if r.IsSome == 0 {
		cabi.Unpin()
		return nil, false
	}
	b := append([]byte{}, cabi.Bytes(r.List.Ptr, r.List.Len)...) // the block is reused after Unpin
	cabi.Unpin()
	return b, true
}

func liftOptionU16() (uint16, bool) {
	r := *(*optionU16Mem)(cabi.Ret())
	return r.Value, r.IsSome != 0
}

func liftBytesList() [][]byte {
	r := *(*listMem)(cabi.Ret())
	out := cabi.BytesList(r.Ptr, r.Len)
	cabi.Unpin()
	return out
}

func unitResult(tag uint32) error {
	if tag != 0 {
		return ErrFailed
	}
	return nil
}

// handles returns the argument form of a list<borrow<R>>: heap memory.
func handles[H ~uint32](hs []H) []uint32 {
	out := make([]uint32, len(hs))
	for i, h := range hs {
		out[i] = uint32(h)
	}
	return out
}

// PublicIdentity is the resource public-identity: an X.509 chain.
type PublicIdentity uint32

// ExportX509Chain returns the DER certificates, end entity first.
//
//	export-X509-chain: func() -> list<list<u8>>;
func (p PublicIdentity) ExportX509Chain() [][]byte {
	publicIdentityExportX509Chain(uint32(p), cabi.Ret())
	return liftBytesList()
}

// Drop drops the handle.
func (p PublicIdentity) Drop() { publicIdentityDrop(uint32(p)) }

// PrivateIdentity is the resource private-identity: a private key with its
// certificate chain. The key never flows back to the guest.
type PrivateIdentity uint32

// ParsePrivateIdentity parses a private key and its chain.
//
//	parse: static func(private-key: list<u8>, x509-chain: list<list<u8>>) -> result<private-identity>;
func ParsePrivateIdentity(privateKey []byte, chain [][]byte) (PrivateIdentity, error) {
	hs := cabi.LowerBytesList(chain)
	privateIdentityParse(cabi.SliceAddr(privateKey), uint32(len(privateKey)), cabi.HeadersAddr(hs), uint32(len(hs)), cabi.Ret())
	runtime.KeepAlive(privateKey)
	runtime.KeepAlive(chain)
	runtime.KeepAlive(hs)
	h, err := liftHandleResult()
	return PrivateIdentity(h), err
}

// PublicIdentity returns the identity's certificate chain.
//
//	public-identity: func() -> public-identity;
func (p PrivateIdentity) PublicIdentity() PublicIdentity {
	return PublicIdentity(privateIdentityPublicIdentity(uint32(p)))
}

// Drop drops the handle.
func (p PrivateIdentity) Drop() { privateIdentityDrop(uint32(p)) }

// ClientConnection is the resource client-connection.
type ClientConnection uint32

// NewClientConnection wraps raw TLS streams; it takes ownership of both.
//
//	constructor(input: input-stream, output: output-stream);
func NewClientConnection(in io.InputStream, out io.OutputStream) ClientConnection {
	return ClientConnection(clientConnectionNew(uint32(in), uint32(out)))
}

// Connect creates the suspended handshake (a child of c); at most once.
//
//	connect: func(server-name: string) -> result<client-handshake>;
func (c ClientConnection) Connect(serverName string) (ClientHandshake, error) {
	clientConnectionConnect(uint32(c), cabi.StringAddr(serverName), uint32(len(serverName)), cabi.Ret())
	runtime.KeepAlive(serverName)
	h, err := liftHandleResult()
	return ClientHandshake(h), err
}

// ServerName returns the name passed to Connect.
//
//	server-name: func() -> option<string>;
func (c ClientConnection) ServerName() (string, bool) {
	clientConnectionServerName(uint32(c), cabi.Ret())
	return liftOptionString()
}

// ALPNID returns the negotiated ALPN protocol.
//
//	alpn-id: func() -> option<alpn-id>;
func (c ClientConnection) ALPNID() ([]byte, bool) {
	clientConnectionALPNID(uint32(c), cabi.Ret())
	return liftOptionBytes()
}

// ClientIdentity returns the identity the client presented.
//
//	client-identity: func() -> option<private-identity>;
func (c ClientConnection) ClientIdentity() (PrivateIdentity, bool) {
	clientConnectionClientIdentity(uint32(c), cabi.Ret())
	h, ok := liftHandleOption()
	return PrivateIdentity(h), ok
}

// ServerIdentity returns the server's verified chain.
//
//	server-identity: func() -> option<public-identity>;
func (c ClientConnection) ServerIdentity() (PublicIdentity, bool) {
	clientConnectionServerIdentity(uint32(c), cabi.Ret())
	h, ok := liftHandleOption()
	return PublicIdentity(h), ok
}

// ProtocolVersion returns the negotiated version.
//
//	protocol-version: func() -> option<protocol-version>;
func (c ClientConnection) ProtocolVersion() (ProtocolVersion, bool) {
	clientConnectionProtocolVersion(uint32(c), cabi.Ret())
	return liftOptionU16()
}

// CipherSuite returns the negotiated cipher suite.
//
//	cipher-suite: func() -> option<cipher-suite>;
func (c ClientConnection) CipherSuite() (CipherSuite, bool) {
	clientConnectionCipherSuite(uint32(c), cabi.Ret())
	return liftOptionU16()
}

// Drop drops the handle; children (handshake, futures, streams) first.
func (c ClientConnection) Drop() { clientConnectionDrop(uint32(c)) }

// ClientHandshake is the resource client-handshake.
type ClientHandshake uint32

// ConfigureALPNIDs sets the ALPN protocols to offer, in preference order.
//
//	configure-alpn-ids: func(value: list<alpn-id>) -> result;
func (h ClientHandshake) ConfigureALPNIDs(ids [][]byte) error {
	hs := cabi.LowerBytesList(ids)
	tag := clientHandshakeConfigureALPNIDs(uint32(h), cabi.HeadersAddr(hs), uint32(len(hs)))
	runtime.KeepAlive(ids)
	runtime.KeepAlive(hs)
	return unitResult(tag)
}

// VerifyServerIdentity resumes the handshake up to the server's certificate.
//
//	verify-server-identity: func() -> result<future-public-identity>;
func (h ClientHandshake) VerifyServerIdentity() (FuturePublicIdentity, error) {
	clientHandshakeVerifyServerIdentity(uint32(h), cabi.Ret())
	f, err := liftHandleResult()
	return FuturePublicIdentity(f), err
}

// ReceiveClientIdentityRequest resumes the handshake up to a certificate
// request from the server (or past the point where one can come).
//
//	receive-client-identity-request: func() -> result<future-client-identity-request>;
func (h ClientHandshake) ReceiveClientIdentityRequest() (FutureClientIdentityRequest, error) {
	clientHandshakeReceiveClientIdentityRequest(uint32(h), cabi.Ret())
	f, err := liftHandleResult()
	return FutureClientIdentityRequest(f), err
}

// ClientHandshakeFinish consumes h and runs the rest of the handshake.
//
//	finish: static func(this: client-handshake) -> future-streams;
func ClientHandshakeFinish(h ClientHandshake) FutureStreams {
	return FutureStreams(clientHandshakeFinish(uint32(h)))
}

// ClientHandshakeAbort consumes h and aborts with an alert; the pollable is
// ready once the alert was written.
//
//	abort: static func(this: client-handshake) -> pollable;
func ClientHandshakeAbort(h ClientHandshake) io.Pollable {
	return io.Pollable(clientHandshakeAbort(uint32(h)))
}

// Drop drops the handle.
func (h ClientHandshake) Drop() { clientHandshakeDrop(uint32(h)) }

// ServerConnection is the resource server-connection.
type ServerConnection uint32

// NewServerConnection wraps raw TLS streams; it takes ownership of both.
//
//	constructor(input: input-stream, output: output-stream);
func NewServerConnection(in io.InputStream, out io.OutputStream) ServerConnection {
	return ServerConnection(serverConnectionNew(uint32(in), uint32(out)))
}

// Accept creates the suspended handshake (a child of c); at most once.
//
//	accept: func() -> result<server-handshake>;
func (c ServerConnection) Accept() (ServerHandshake, error) {
	serverConnectionAccept(uint32(c), cabi.Ret())
	h, err := liftHandleResult()
	return ServerHandshake(h), err
}

// RequestClientIdentity requests post-handshake client authentication.
//
//	request-client-identity: func() -> result<future-public-identity>;
func (c ServerConnection) RequestClientIdentity() (FuturePublicIdentity, error) {
	serverConnectionRequestClientIdentity(uint32(c), cabi.Ret())
	f, err := liftHandleResult()
	return FuturePublicIdentity(f), err
}

// ServerName returns the SNI the client sent.
//
//	server-name: func() -> option<string>;
func (c ServerConnection) ServerName() (string, bool) {
	serverConnectionServerName(uint32(c), cabi.Ret())
	return liftOptionString()
}

// ALPNID returns the negotiated ALPN protocol.
//
//	alpn-id: func() -> option<alpn-id>;
func (c ServerConnection) ALPNID() ([]byte, bool) {
	serverConnectionALPNID(uint32(c), cabi.Ret())
	return liftOptionBytes()
}

// ClientIdentity returns the client's accepted chain.
//
//	client-identity: func() -> option<public-identity>;
func (c ServerConnection) ClientIdentity() (PublicIdentity, bool) {
	serverConnectionClientIdentity(uint32(c), cabi.Ret())
	h, ok := liftHandleOption()
	return PublicIdentity(h), ok
}

// ServerIdentity returns the identity the server presented.
//
//	server-identity: func() -> option<private-identity>;
func (c ServerConnection) ServerIdentity() (PrivateIdentity, bool) {
	serverConnectionServerIdentity(uint32(c), cabi.Ret())
	h, ok := liftHandleOption()
	return PrivateIdentity(h), ok
}

// ProtocolVersion returns the negotiated version.
//
//	protocol-version: func() -> option<protocol-version>;
func (c ServerConnection) ProtocolVersion() (ProtocolVersion, bool) {
	serverConnectionProtocolVersion(uint32(c), cabi.Ret())
	return liftOptionU16()
}

// CipherSuite returns the negotiated cipher suite.
//
//	cipher-suite: func() -> option<cipher-suite>;
func (c ServerConnection) CipherSuite() (CipherSuite, bool) {
	serverConnectionCipherSuite(uint32(c), cabi.Ret())
	return liftOptionU16()
}

// Drop drops the handle; children first.
func (c ServerConnection) Drop() { serverConnectionDrop(uint32(c)) }

// ServerHandshake is the resource server-handshake.
type ServerHandshake uint32

// ConfigureALPNIDs sets the ALPN protocols to accept, in preference order.
//
//	configure-alpn-ids: func(value: list<alpn-id>) -> result;
func (h ServerHandshake) ConfigureALPNIDs(ids [][]byte) error {
	hs := cabi.LowerBytesList(ids)
	tag := serverHandshakeConfigureALPNIDs(uint32(h), cabi.HeadersAddr(hs), uint32(len(hs)))
	runtime.KeepAlive(ids)
	runtime.KeepAlive(hs)
	return unitResult(tag)
}

// ConfigureServerIdentities sets the identities to choose from.
//
//	configure-server-identities: func(value: list<borrow<private-identity>>) -> result;
func (h ServerHandshake) ConfigureServerIdentities(ids []PrivateIdentity) error {
	hs := handles(ids)
	tag := serverHandshakeConfigureServerIdentities(uint32(h), cabi.Uint32sAddr(hs), uint32(len(hs)))
	runtime.KeepAlive(hs)
	return unitResult(tag)
}

// ReceiveClientHello resumes the handshake up to the ClientHello.
//
//	receive-client-hello: func() -> result<future-client-hello>;
func (h ServerHandshake) ReceiveClientHello() (FutureClientHello, error) {
	serverHandshakeReceiveClientHello(uint32(h), cabi.Ret())
	f, err := liftHandleResult()
	return FutureClientHello(f), err
}

// RequestClientIdentity resumes the handshake requesting a client
// certificate; the future resolves with the validated chain, if any.
//
//	request-client-identity: func() -> result<future-public-identity>;
func (h ServerHandshake) RequestClientIdentity() (FuturePublicIdentity, error) {
	serverHandshakeRequestClientIdentity(uint32(h), cabi.Ret())
	f, err := liftHandleResult()
	return FuturePublicIdentity(f), err
}

// ServerHandshakeFinish consumes h and runs the rest of the handshake.
//
//	finish: static func(this: server-handshake) -> future-streams;
func ServerHandshakeFinish(h ServerHandshake) FutureStreams {
	return FutureStreams(serverHandshakeFinish(uint32(h)))
}

// ServerHandshakeAbort consumes h and aborts with an alert.
//
//	abort: static func(this: server-handshake) -> pollable;
func ServerHandshakeAbort(h ServerHandshake) io.Pollable {
	return io.Pollable(serverHandshakeAbort(uint32(h)))
}

// Drop drops the handle.
func (h ServerHandshake) Drop() { serverHandshakeDrop(uint32(h)) }

// ClientHello is the resource client-hello.
type ClientHello uint32

// ServerName returns the SNI.
//
//	server-name: func() -> option<string>;
func (c ClientHello) ServerName() (string, bool) {
	clientHelloServerName(uint32(c), cabi.Ret())
	return liftOptionString()
}

// ALPNIDs returns the offered ALPN protocols.
//
//	alpn-ids: func() -> list<alpn-id>;
func (c ClientHello) ALPNIDs() [][]byte {
	clientHelloALPNIDs(uint32(c), cabi.Ret())
	return liftBytesList()
}

// CipherSuites returns the offered cipher suites.
//
//	cipher-suites: func() -> list<cipher-suite>;
func (c ClientHello) CipherSuites() []CipherSuite {
	clientHelloCipherSuites(uint32(c), cabi.Ret())
	r := *(*listMem)(cabi.Ret())
	v := append([]uint16(nil), cabi.Uint16s(r.Ptr, r.Len)...) // the block is reused after Unpin
	cabi.Unpin()
	return v
}

// Drop drops the handle.
func (c ClientHello) Drop() { clientHelloDrop(uint32(c)) }

// ClientIdentityRequest is the resource client-identity-request; dropping it
// is offering no certificate.
type ClientIdentityRequest uint32

// ClientIdentityRequestRespond consumes r and offers ids.
//
//	respond: static func(this: client-identity-request, identities: list<borrow<private-identity>>);
func ClientIdentityRequestRespond(r ClientIdentityRequest, ids []PrivateIdentity) {
	hs := handles(ids)
	clientIdentityRequestRespond(uint32(r), cabi.Uint32sAddr(hs), uint32(len(hs)))
	runtime.KeepAlive(hs)
}

// Drop drops the handle.
func (r ClientIdentityRequest) Drop() { clientIdentityRequestDrop(uint32(r)) }

// FutureStreams is the resource future-streams.
type FutureStreams uint32

// Subscribe returns a pollable ready when the future resolved.
//
//	subscribe: func() -> pollable;
func (f FutureStreams) Subscribe() io.Pollable { return io.Pollable(futureStreamsSubscribe(uint32(f))) }

// Get returns the cleartext streams; ready is false while pending.
//
//	get: func() -> option<result<result<tuple<input-stream, output-stream>>>>;
func (f FutureStreams) Get() (in io.InputStream, out io.OutputStream, ready bool, err error) {
	futureStreamsGet(uint32(f), cabi.Ret())
	r := *(*futureStreamsGetMem)(cabi.Ret())
	switch {
	case r.IsSome == 0:
		return 0, 0, false, nil
	case r.Outer != 0:
		return 0, 0, true, ErrConsumed
	case r.Inner != 0:
		return 0, 0, true, ErrFailed
	}
	return io.InputStream(r.Handles[0]), io.OutputStream(r.Handles[1]), true, nil
}

// Drop drops the handle.
func (f FutureStreams) Drop() { futureStreamsDrop(uint32(f)) }

// FutureClientHello is the resource future-client-hello.
type FutureClientHello uint32

// Subscribe returns a pollable ready when the future resolved.
//
//	subscribe: func() -> pollable;
func (f FutureClientHello) Subscribe() io.Pollable {
	return io.Pollable(futureClientHelloSubscribe(uint32(f)))
}

// Get returns the ClientHello; ready is false while pending.
//
//	get: func() -> option<result<result<client-hello>>>;
func (f FutureClientHello) Get() (hello ClientHello, ready bool, err error) {
	futureClientHelloGet(uint32(f), cabi.Ret())
	h, ready, err := liftFutureHandle()
	return ClientHello(h), ready, err
}

// Drop drops the handle.
func (f FutureClientHello) Drop() { futureClientHelloDrop(uint32(f)) }

func liftFutureHandle() (uint32, bool, error) {
	r := *(*futureHandleGetMem)(cabi.Ret())
	switch {
	case r.IsSome == 0:
		return 0, false, nil
	case r.Outer != 0:
		return 0, true, ErrConsumed
	case r.Inner != 0:
		return 0, true, ErrFailed
	}
	return r.Handle, true, nil
}

func liftFutureOptionHandle() (h uint32, some, ready bool, err error) {
	r := *(*futureOptionHandleGetMem)(cabi.Ret())
	switch {
	case r.IsSome == 0:
		return 0, false, false, nil
	case r.Outer != 0:
		return 0, false, true, ErrConsumed
	case r.Inner != 0:
		return 0, false, true, ErrFailed
	}
	return r.Option.Handle, r.Option.Tag != 0, true, nil
}

// FuturePublicIdentity is the resource future-public-identity.
type FuturePublicIdentity uint32

// Subscribe returns a pollable ready when the future resolved.
//
//	subscribe: func() -> pollable;
func (f FuturePublicIdentity) Subscribe() io.Pollable {
	return io.Pollable(futurePublicIdentitySubscribe(uint32(f)))
}

// Get returns the peer identity (some is false for none); ready is false
// while pending.
//
//	get: func() -> option<result<result<option<public-identity>>>>;
func (f FuturePublicIdentity) Get() (id PublicIdentity, some, ready bool, err error) {
	futurePublicIdentityGet(uint32(f), cabi.Ret())
	h, some, ready, err := liftFutureOptionHandle()
	return PublicIdentity(h), some, ready, err
}

// Drop drops the handle.
func (f FuturePublicIdentity) Drop() { futurePublicIdentityDrop(uint32(f)) }

// FutureClientIdentityRequest is the resource future-client-identity-request.
type FutureClientIdentityRequest uint32

// Subscribe returns a pollable ready when the future resolved.
//
//	subscribe: func() -> pollable;
func (f FutureClientIdentityRequest) Subscribe() io.Pollable {
	return io.Pollable(futureClientIdentityRequestSubscribe(uint32(f)))
}

// Get returns the server's request (some is false when the server sent
// none); ready is false while pending.
//
//	get: func() -> option<result<result<option<client-identity-request>>>>;
func (f FutureClientIdentityRequest) Get() (req ClientIdentityRequest, some, ready bool, err error) {
	futureClientIdentityRequestGet(uint32(f), cabi.Ret())
	h, some, ready, err := liftFutureOptionHandle()
	return ClientIdentityRequest(h), some, ready, err
}

// Drop drops the handle.
func (f FutureClientIdentityRequest) Drop() { futureClientIdentityRequestDrop(uint32(f)) }

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]public-identity.export-X509-chain
func publicIdentityExportX509Chain(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]public-identity
func publicIdentityDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [static]private-identity.parse
func privateIdentityParse(key unsafe.Pointer, keyLen uint32, chain unsafe.Pointer, chainLen uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]private-identity.public-identity
func privateIdentityPublicIdentity(self uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]private-identity
func privateIdentityDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [constructor]client-connection
func clientConnectionNew(in, out uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-connection.connect
func clientConnectionConnect(self uint32, name unsafe.Pointer, nameLen uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-connection.server-name
func clientConnectionServerName(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-connection.alpn-id
func clientConnectionALPNID(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-connection.client-identity
func clientConnectionClientIdentity(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-connection.server-identity
func clientConnectionServerIdentity(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-connection.protocol-version
func clientConnectionProtocolVersion(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-connection.cipher-suite
func clientConnectionCipherSuite(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]client-connection
func clientConnectionDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-handshake.configure-alpn-ids
func clientHandshakeConfigureALPNIDs(self uint32, ids unsafe.Pointer, n uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-handshake.verify-server-identity
func clientHandshakeVerifyServerIdentity(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-handshake.receive-client-identity-request
func clientHandshakeReceiveClientIdentityRequest(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [static]client-handshake.finish
func clientHandshakeFinish(this uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [static]client-handshake.abort
func clientHandshakeAbort(this uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]client-handshake
func clientHandshakeDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [constructor]server-connection
func serverConnectionNew(in, out uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-connection.accept
func serverConnectionAccept(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-connection.request-client-identity
func serverConnectionRequestClientIdentity(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-connection.server-name
func serverConnectionServerName(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-connection.alpn-id
func serverConnectionALPNID(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-connection.client-identity
func serverConnectionClientIdentity(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-connection.server-identity
func serverConnectionServerIdentity(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-connection.protocol-version
func serverConnectionProtocolVersion(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-connection.cipher-suite
func serverConnectionCipherSuite(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]server-connection
func serverConnectionDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-handshake.configure-alpn-ids
func serverHandshakeConfigureALPNIDs(self uint32, ids unsafe.Pointer, n uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-handshake.configure-server-identities
func serverHandshakeConfigureServerIdentities(self uint32, ids unsafe.Pointer, n uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-handshake.receive-client-hello
func serverHandshakeReceiveClientHello(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]server-handshake.request-client-identity
func serverHandshakeRequestClientIdentity(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [static]server-handshake.finish
func serverHandshakeFinish(this uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [static]server-handshake.abort
func serverHandshakeAbort(this uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]server-handshake
func serverHandshakeDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-hello.server-name
func clientHelloServerName(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-hello.alpn-ids
func clientHelloALPNIDs(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]client-hello.cipher-suites
func clientHelloCipherSuites(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]client-hello
func clientHelloDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [static]client-identity-request.respond
func clientIdentityRequestRespond(this uint32, ids unsafe.Pointer, n uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]client-identity-request
func clientIdentityRequestDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]future-streams.subscribe
func futureStreamsSubscribe(self uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]future-streams.get
func futureStreamsGet(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]future-streams
func futureStreamsDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]future-client-hello.subscribe
func futureClientHelloSubscribe(self uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]future-client-hello.get
func futureClientHelloGet(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]future-client-hello
func futureClientHelloDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]future-public-identity.subscribe
func futurePublicIdentitySubscribe(self uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]future-public-identity.get
func futurePublicIdentityGet(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]future-public-identity
func futurePublicIdentityDrop(self uint32)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]future-client-identity-request.subscribe
func futureClientIdentityRequestSubscribe(self uint32) uint32

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [method]future-client-identity-request.get
func futureClientIdentityRequestGet(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/tls@0.2.0-pr104 [resource-drop]future-client-identity-request
func futureClientIdentityRequestDrop(self uint32)
