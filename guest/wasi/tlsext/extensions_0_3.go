//go:build wasip1

package tlsext

import (
	ext3 "github.com/wasitls/wasitls/guest/wasi/bindings/wasitls/tls/v0.3.0/extensions"
	"github.com/wasitls/wasitls/guest/wasi/tls"
)

// The functions wasitls:tls/extensions@0.3.0 adds: session resumption
// and the stapled OCSP response.
// Those of 0.1.0 and 0.2.0 keep importing their own version.

// ConfigureClientResumption turns session resumption on or off for the
// connection (on by default where the host allows it). The sessions stay
// in the host.
//
//	configure-client-resumption: func(handshake: borrow<client-handshake>, enabled: bool) -> result<_, string>;
func ConfigureClientResumption(h tls.ClientHandshake, enabled bool) error {
	return ext3.ConfigureClientResumption(ext3.ClientHandshakeBorrow(h), enabled)
}

// ConfigureServerResumption turns session resumption (and ticket issuing)
// on or off for the connection.
//
//	configure-server-resumption: func(handshake: borrow<server-handshake>, enabled: bool) -> result<_, string>;
func ConfigureServerResumption(h tls.ServerHandshake, enabled bool) error {
	return ext3.ConfigureServerResumption(ext3.ServerHandshakeBorrow(h), enabled)
}

// ClientSessionResumed reports whether the completed handshake resumed a
// session.
//
//	client-session-resumed: func(connection: borrow<client-connection>) -> bool;
func ClientSessionResumed(c tls.ClientConnection) bool {
	return ext3.ClientSessionResumed(ext3.ClientConnectionBorrow(c))
}

// ServerSessionResumed reports whether the completed handshake resumed a
// session.
//
//	server-session-resumed: func(connection: borrow<server-connection>) -> bool;
func ServerSessionResumed(c tls.ServerConnection) bool {
	return ext3.ServerSessionResumed(ext3.ServerConnectionBorrow(c))
}

// ClientOCSPResponse returns the OCSP response the server stapled (DER, as
// sent, unchecked), if any.
//
//	client-ocsp-response: func(connection: borrow<client-connection>) -> option<list<u8>>;
func ClientOCSPResponse(c tls.ClientConnection) ([]byte, bool) {
	return ext3.ClientOCSPResponse(ext3.ClientConnectionBorrow(c))
}
