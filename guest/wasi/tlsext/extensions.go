//go:build wasip1

package tlsext

import (
	ext "github.com/wasitls/wasitls/guest/wasi/bindings/wasitls/tls/v0.1.0/extensions"
	"github.com/wasitls/wasitls/guest/wasi/tls"
)

// NamedGroup is a TLS supported group by IANA code point.
type NamedGroup = ext.NamedGroup

// ConfigureClientProtocolVersions sets the versions the client may negotiate.
//
//	configure-client-protocol-versions: func(handshake: borrow<client-handshake>, value: list<protocol-version>) -> result<_, string>;
func ConfigureClientProtocolVersions(h tls.ClientHandshake, v []uint16) error {
	return ext.ConfigureClientProtocolVersions(ext.ClientHandshakeBorrow(h), v)
}

// ConfigureClientCipherSuites sets the suites the client offers.
//
//	configure-client-cipher-suites: func(handshake: borrow<client-handshake>, value: list<cipher-suite>) -> result<_, string>;
func ConfigureClientCipherSuites(h tls.ClientHandshake, v []uint16) error {
	return ext.ConfigureClientCipherSuites(ext.ClientHandshakeBorrow(h), v)
}

// ConfigureClientGroups sets the groups the client offers; the first
// keyShares get a key share.
//
//	configure-client-groups: func(handshake: borrow<client-handshake>, value: list<named-group>, key-shares: u8) -> result<_, string>;
func ConfigureClientGroups(h tls.ClientHandshake, v []NamedGroup, keyShares uint8) error {
	return ext.ConfigureClientGroups(ext.ClientHandshakeBorrow(h), v, keyShares)
}

// ConfigureServerProtocolVersions sets the versions the server accepts.
//
//	configure-server-protocol-versions: func(handshake: borrow<server-handshake>, value: list<protocol-version>) -> result<_, string>;
func ConfigureServerProtocolVersions(h tls.ServerHandshake, v []uint16) error {
	return ext.ConfigureServerProtocolVersions(ext.ServerHandshakeBorrow(h), v)
}

// ConfigureServerCipherSuites sets the suites the server accepts.
//
//	configure-server-cipher-suites: func(handshake: borrow<server-handshake>, value: list<cipher-suite>) -> result<_, string>;
func ConfigureServerCipherSuites(h tls.ServerHandshake, v []uint16) error {
	return ext.ConfigureServerCipherSuites(ext.ServerHandshakeBorrow(h), v)
}

// ConfigureServerGroups sets the groups the server accepts.
//
//	configure-server-groups: func(handshake: borrow<server-handshake>, value: list<named-group>) -> result<_, string>;
func ConfigureServerGroups(h tls.ServerHandshake, v []NamedGroup) error {
	return ext.ConfigureServerGroups(ext.ServerHandshakeBorrow(h), v)
}

// ClientNegotiatedGroup returns the key-exchange group of the handshake.
//
//	client-negotiated-group: func(connection: borrow<client-connection>) -> option<named-group>;
func ClientNegotiatedGroup(c tls.ClientConnection) (NamedGroup, bool) {
	return ext.ClientNegotiatedGroup(ext.ClientConnectionBorrow(c))
}

// ServerNegotiatedGroup returns the key-exchange group of the handshake.
//
//	server-negotiated-group: func(connection: borrow<server-connection>) -> option<named-group>;
func ServerNegotiatedGroup(c tls.ServerConnection) (NamedGroup, bool) {
	return ext.ServerNegotiatedGroup(ext.ServerConnectionBorrow(c))
}

// CloseClientOutput flushes the cleartext output and sends close_notify.
//
//	close-client-output: func(connection: borrow<client-connection>) -> result<_, string>;
func CloseClientOutput(c tls.ClientConnection) error {
	return ext.CloseClientOutput(ext.ClientConnectionBorrow(c))
}

// CloseServerOutput flushes the cleartext output and sends close_notify.
//
//	close-server-output: func(connection: borrow<server-connection>) -> result<_, string>;
func CloseServerOutput(c tls.ServerConnection) error {
	return ext.CloseServerOutput(ext.ServerConnectionBorrow(c))
}
