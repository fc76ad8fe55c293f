//go:build wasip1

package tlsext

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/tls"
)

// The functions wasitls:tls/extensions@0.2.0 adds. The functions of 0.1.0
// keep importing 0.1.0, so a guest that uses only those runs on hosts
// that serve only 0.1.0.

// SignatureScheme is a TLS signature scheme by IANA code point.
type SignatureScheme = uint16

// Algorithms are protocol versions, cipher suites and key-exchange groups,
// each in preference order.
type Algorithms struct {
	Versions     []uint16
	CipherSuites []uint16
	Groups       []NamedGroup
}

func liftU16s(l listMem) []uint16 {
	return append([]uint16{}, cabi.Uint16s(l.Ptr, l.Len)...) // the block is reused after Unpin
}

func liftAlgorithms() Algorithms {
	r := *(*algorithmsMem)(cabi.Ret())
	a := Algorithms{Versions: liftU16s(r.Versions), CipherSuites: liftU16s(r.CipherSuites), Groups: liftU16s(r.Groups)}
	cabi.Unpin()
	return a
}

func liftU16List() []uint16 {
	v := liftU16s(*(*listMem)(cabi.Ret()))
	cabi.Unpin()
	return v
}

// AllowedAlgorithms is what the host lets the guest select from; an empty
// list means the host cannot name it.
//
//	allowed-algorithms: func() -> algorithms;
func AllowedAlgorithms() Algorithms {
	allowedAlgorithms(cabi.Ret())
	return liftAlgorithms()
}

// DefaultAlgorithms is what a connection uses when the guest configures
// nothing; an empty list means the host cannot name it.
//
//	default-algorithms: func() -> algorithms;
func DefaultAlgorithms() Algorithms {
	defaultAlgorithms(cabi.Ret())
	return liftAlgorithms()
}

// ClientHelloVersions returns the protocol versions the client offered.
//
//	client-hello-versions: func(hello: borrow<client-hello>) -> list<protocol-version>;
func ClientHelloVersions(h tls.ClientHello) []uint16 {
	clientHelloVersions(uint32(h), cabi.Ret())
	return liftU16List()
}

// ClientHelloGroups returns the key-exchange groups the client supports.
//
//	client-hello-groups: func(hello: borrow<client-hello>) -> list<named-group>;
func ClientHelloGroups(h tls.ClientHello) []NamedGroup {
	clientHelloGroups(uint32(h), cabi.Ret())
	return liftU16List()
}

// ClientHelloSignatureSchemes returns the signature schemes the client
// accepts.
//
//	client-hello-signature-schemes: func(hello: borrow<client-hello>) -> list<signature-scheme>;
func ClientHelloSignatureSchemes(h tls.ClientHello) []SignatureScheme {
	clientHelloSignatureSchemes(uint32(h), cabi.Ret())
	return liftU16List()
}

// ClientIdentityRequestSignatureSchemes returns the signature schemes the
// server accepts for the client's certificate.
//
//	client-identity-request-signature-schemes: func(request: borrow<client-identity-request>) -> list<signature-scheme>;
func ClientIdentityRequestSignatureSchemes(r tls.ClientIdentityRequest) []SignatureScheme {
	clientIdentityRequestSignatureSchemes(uint32(r), cabi.Ret())
	return liftU16List()
}

// ClientIdentityRequestAuthorities returns the DER distinguished names of
// the CAs the server accepts; empty means any.
//
//	client-identity-request-authorities: func(request: borrow<client-identity-request>) -> list<list<u8>>;
func ClientIdentityRequestAuthorities(r tls.ClientIdentityRequest) [][]byte {
	clientIdentityRequestAuthorities(uint32(r), cabi.Ret())
	l := *(*listMem)(cabi.Ret())
	out := cabi.BytesList(l.Ptr, l.Len)
	cabi.Unpin()
	return out
}

// ParsePrivateIdentity is tls.ParsePrivateIdentity with the host's reason
// when the key or chain does not parse.
//
//	parse-private-identity: func(private-key: list<u8>, x509-chain: list<list<u8>>) -> result<private-identity, string>;
func ParsePrivateIdentity(privateKey []byte, chain [][]byte) (tls.PrivateIdentity, error) {
	hs := cabi.LowerBytesList(chain)
	parsePrivateIdentity(cabi.SliceAddr(privateKey), uint32(len(privateKey)), cabi.HeadersAddr(hs), uint32(len(hs)), cabi.Ret())
	runtime.KeepAlive(privateKey)
	runtime.KeepAlive(chain)
	runtime.KeepAlive(hs)
	r := *(*resultHandleStringMem)(cabi.Ret())
	if r.IsErr == 0 {
		return tls.PrivateIdentity(r.Ptr), nil
	}
	msg := string(cabi.Bytes(r.Ptr, r.Len))
	cabi.Unpin()
	return 0, errors.New(msg)
}

// HostIdentity returns a handle to the identity the host holds under name;
// the private key never enters guest memory.
//
//	host-identity: func(name: string) -> option<private-identity>;
func HostIdentity(name string) (tls.PrivateIdentity, bool) {
	hostIdentity(cabi.StringAddr(name), uint32(len(name)), cabi.Ret())
	runtime.KeepAlive(name)
	r := *(*optionHandleMem)(cabi.Ret())
	return tls.PrivateIdentity(r.Handle), r.IsSome != 0
}

// ExportClientKeyingMaterial exports keying material from a connection
// whose handshake completed (RFC 8446, Section 7.5; RFC 5705). A nil
// context is no context.
//
//	export-client-keying-material: func(connection: borrow<client-connection>, label: string, context: option<list<u8>>, length: u32) -> result<list<u8>, string>;
func ExportClientKeyingMaterial(c tls.ClientConnection, label string, context []byte, length uint32) ([]byte, error) {
	some := uint32(0)
	if context != nil {
		some = 1
	}
	exportClientKeyingMaterial(uint32(c), cabi.StringAddr(label), uint32(len(label)), some, cabi.SliceAddr(context), uint32(len(context)), length, cabi.Ret())
	runtime.KeepAlive(label)
	runtime.KeepAlive(context)
	return liftBytesResult()
}

// ExportServerKeyingMaterial is ExportClientKeyingMaterial for a server
// connection.
//
//	export-server-keying-material: func(connection: borrow<server-connection>, label: string, context: option<list<u8>>, length: u32) -> result<list<u8>, string>;
func ExportServerKeyingMaterial(c tls.ServerConnection, label string, context []byte, length uint32) ([]byte, error) {
	some := uint32(0)
	if context != nil {
		some = 1
	}
	exportServerKeyingMaterial(uint32(c), cabi.StringAddr(label), uint32(len(label)), some, cabi.SliceAddr(context), uint32(len(context)), length, cabi.Ret())
	runtime.KeepAlive(label)
	runtime.KeepAlive(context)
	return liftBytesResult()
}

// liftBytesResult lifts result<list<u8>, string>.
func liftBytesResult() ([]byte, error) {
	r := *(*resultStringErrMem)(cabi.Ret())
	b := append([]byte{}, cabi.Bytes(r.Ptr, r.Len)...) // the block is reused after Unpin
	cabi.Unpin()
	if r.IsErr != 0 {
		return nil, errors.New(string(b))
	}
	return b, nil
}

//go:wasmimport wasitls:tls/extensions@0.2.0 export-client-keying-material
func exportClientKeyingMaterial(c uint32, label unsafe.Pointer, labelLen uint32, some uint32, ctx unsafe.Pointer, ctxLen uint32, length uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 export-server-keying-material
func exportServerKeyingMaterial(c uint32, label unsafe.Pointer, labelLen uint32, some uint32, ctx unsafe.Pointer, ctxLen uint32, length uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 host-identity
func hostIdentity(name unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 allowed-algorithms
func allowedAlgorithms(ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 default-algorithms
func defaultAlgorithms(ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 client-hello-versions
func clientHelloVersions(h uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 client-hello-groups
func clientHelloGroups(h uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 client-hello-signature-schemes
func clientHelloSignatureSchemes(h uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 client-identity-request-signature-schemes
func clientIdentityRequestSignatureSchemes(r uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 client-identity-request-authorities
func clientIdentityRequestAuthorities(r uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.2.0 parse-private-identity
func parsePrivateIdentity(key unsafe.Pointer, keyLen uint32, chain unsafe.Pointer, chainLen uint32, ret unsafe.Pointer)
