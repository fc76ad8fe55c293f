//go:build wasip1

package tlsext

import (
	ext "github.com/wasitls/wasitls/guest/wasi/bindings/wasitls/tls/v0.1.0/extensions"
	"github.com/wasitls/wasitls/guest/wasi/tls"
)

// ClientLastError returns why the connection's most recent step failed, as
// the host's backend reported it. The proposal's futures carry no error
// payload; this is where the reason is.
//
//	client-last-error: func(connection: borrow<client-connection>) -> option<string>;
func ClientLastError(c tls.ClientConnection) (string, bool) {
	return ext.ClientLastError(ext.ClientConnectionBorrow(c))
}

// ServerLastError is ClientLastError for a server connection.
//
//	server-last-error: func(connection: borrow<server-connection>) -> option<string>;
func ServerLastError(c tls.ServerConnection) (string, bool) {
	return ext.ServerLastError(ext.ServerConnectionBorrow(c))
}
