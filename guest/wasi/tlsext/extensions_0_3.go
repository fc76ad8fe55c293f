//go:build wasip1

package tlsext

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/tls"
)

// The functions wasitls:tls/extensions@0.3.0 adds: session resumption.
// Those of 0.1.0 and 0.2.0 keep importing their own version.

func boolArg(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// ConfigureClientResumption turns session resumption on or off for the
// connection (on by default where the host allows it). The sessions stay
// in the host.
//
//	configure-client-resumption: func(handshake: borrow<client-handshake>, enabled: bool) -> result<_, string>;
func ConfigureClientResumption(h tls.ClientHandshake, enabled bool) error {
	configureClientResumption(uint32(h), boolArg(enabled), cabi.Ret())
	return liftResult()
}

// ConfigureServerResumption turns session resumption (and ticket issuing)
// on or off for the connection.
//
//	configure-server-resumption: func(handshake: borrow<server-handshake>, enabled: bool) -> result<_, string>;
func ConfigureServerResumption(h tls.ServerHandshake, enabled bool) error {
	configureServerResumption(uint32(h), boolArg(enabled), cabi.Ret())
	return liftResult()
}

// ClientSessionResumed reports whether the completed handshake resumed a
// session.
//
//	client-session-resumed: func(connection: borrow<client-connection>) -> bool;
func ClientSessionResumed(c tls.ClientConnection) bool {
	return clientSessionResumed(uint32(c)) != 0
}

// ServerSessionResumed reports whether the completed handshake resumed a
// session.
//
//	server-session-resumed: func(connection: borrow<server-connection>) -> bool;
func ServerSessionResumed(c tls.ServerConnection) bool {
	return serverSessionResumed(uint32(c)) != 0
}

//go:wasmimport wasitls:tls/extensions@0.3.0 configure-client-resumption
func configureClientResumption(h, enabled uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.3.0 configure-server-resumption
func configureServerResumption(h, enabled uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.3.0 client-session-resumed
func clientSessionResumed(c uint32) uint32

//go:wasmimport wasitls:tls/extensions@0.3.0 server-session-resumed
func serverSessionResumed(c uint32) uint32
