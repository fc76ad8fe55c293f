//go:build wasip1

package tlsext

import (
	"github.com/wasitls/wasitls/cabi/witval"
	ext2 "github.com/wasitls/wasitls/guest/wasi/bindings/wasitls/tls/v0.2.0/extensions"
	"github.com/wasitls/wasitls/guest/wasi/tls"
)

// The functions wasitls:tls/extensions@0.2.0 adds. The functions of 0.1.0
// keep importing 0.1.0, so a guest that uses only those runs on hosts
// that serve only 0.1.0.

// SignatureScheme is a TLS signature scheme by IANA code point.
type SignatureScheme = ext2.SignatureScheme

// Algorithms are protocol versions, cipher suites and key-exchange groups,
// each in preference order.
type Algorithms = ext2.Algorithms

// AllowedAlgorithms is what the host lets the guest select from; an empty
// list means the host cannot name it.
//
//	allowed-algorithms: func() -> algorithms;
func AllowedAlgorithms() Algorithms {
	return ext2.AllowedAlgorithms()
}

// DefaultAlgorithms is what a connection uses when the guest configures
// nothing; an empty list means the host cannot name it.
//
//	default-algorithms: func() -> algorithms;
func DefaultAlgorithms() Algorithms {
	return ext2.DefaultAlgorithms()
}

// ClientHelloVersions returns the protocol versions the client offered.
//
//	client-hello-versions: func(hello: borrow<client-hello>) -> list<protocol-version>;
func ClientHelloVersions(h tls.ClientHello) []uint16 {
	return ext2.ClientHelloVersions(ext2.ClientHelloBorrow(h))
}

// ClientHelloGroups returns the key-exchange groups the client supports.
//
//	client-hello-groups: func(hello: borrow<client-hello>) -> list<named-group>;
func ClientHelloGroups(h tls.ClientHello) []NamedGroup {
	return ext2.ClientHelloGroups(ext2.ClientHelloBorrow(h))
}

// ClientHelloSignatureSchemes returns the signature schemes the client
// accepts.
//
//	client-hello-signature-schemes: func(hello: borrow<client-hello>) -> list<signature-scheme>;
func ClientHelloSignatureSchemes(h tls.ClientHello) []SignatureScheme {
	return ext2.ClientHelloSignatureSchemes(ext2.ClientHelloBorrow(h))
}

// ClientIdentityRequestSignatureSchemes returns the signature schemes the
// server accepts for the client's certificate.
//
//	client-identity-request-signature-schemes: func(request: borrow<client-identity-request>) -> list<signature-scheme>;
func ClientIdentityRequestSignatureSchemes(r tls.ClientIdentityRequest) []SignatureScheme {
	return ext2.ClientIdentityRequestSignatureSchemes(ext2.ClientIdentityRequestBorrow(r))
}

// ClientIdentityRequestAuthorities returns the DER distinguished names of
// the CAs the server accepts; empty means any.
//
//	client-identity-request-authorities: func(request: borrow<client-identity-request>) -> list<list<u8>>;
func ClientIdentityRequestAuthorities(r tls.ClientIdentityRequest) [][]byte {
	return ext2.ClientIdentityRequestAuthorities(ext2.ClientIdentityRequestBorrow(r))
}

// ParsePrivateIdentity is tls.ParsePrivateIdentity with the host's reason
// when the key or chain does not parse.
//
//	parse-private-identity: func(private-key: list<u8>, x509-chain: list<list<u8>>) -> result<private-identity, string>;
func ParsePrivateIdentity(privateKey []byte, chain [][]byte) (tls.PrivateIdentity, error) {
	id, err := ext2.ParsePrivateIdentity(privateKey, chain)
	return tls.PrivateIdentity(id), err
}

// HostIdentity returns a handle to the identity the host holds under name;
// the private key never enters guest memory.
//
//	host-identity: func(name: string) -> option<private-identity>;
func HostIdentity(name string) (tls.PrivateIdentity, bool) {
	id, ok := ext2.HostIdentity(name)
	return tls.PrivateIdentity(id), ok
}

// ExportClientKeyingMaterial exports keying material from a connection
// whose handshake completed (RFC 8446, Section 7.5; RFC 5705). A nil
// context is no context.
//
//	export-client-keying-material: func(connection: borrow<client-connection>, label: string, context: option<list<u8>>, length: u32) -> result<list<u8>, string>;
func ExportClientKeyingMaterial(c tls.ClientConnection, label string, context []byte, length uint32) ([]byte, error) {
	return ext2.ExportClientKeyingMaterial(ext2.ClientConnectionBorrow(c), label, optionalBytes(context), length)
}

// ExportServerKeyingMaterial is ExportClientKeyingMaterial for a server
// connection.
//
//	export-server-keying-material: func(connection: borrow<server-connection>, label: string, context: option<list<u8>>, length: u32) -> result<list<u8>, string>;
func ExportServerKeyingMaterial(c tls.ServerConnection, label string, context []byte, length uint32) ([]byte, error) {
	return ext2.ExportServerKeyingMaterial(ext2.ServerConnectionBorrow(c), label, optionalBytes(context), length)
}

// optionalBytes is option<list<u8>>: none for a nil slice.
func optionalBytes(b []byte) witval.Option[[]byte] {
	if b == nil {
		return witval.None[[]byte]()
	}
	return witval.Some(b)
}
