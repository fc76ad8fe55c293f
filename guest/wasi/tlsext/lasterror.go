//go:build wasip1

package tlsext

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/tls"
)

// ClientLastError returns why the connection's most recent step failed, as
// the host's backend reported it. The proposal's futures carry no error
// payload; this is where the reason is.
//
//	client-last-error: func(connection: borrow<client-connection>) -> option<string>;
func ClientLastError(c tls.ClientConnection) (string, bool) {
	clientLastError(uint32(c), cabi.Ret())
	return liftOptionString()
}

// ServerLastError is ClientLastError for a server connection.
//
//	server-last-error: func(connection: borrow<server-connection>) -> option<string>;
func ServerLastError(c tls.ServerConnection) (string, bool) {
	serverLastError(uint32(c), cabi.Ret())
	return liftOptionString()
}

// liftOptionString lifts option<string>, whose layout is the same as
// result<_, string>'s: a one-byte tag, then the list at offset 4.
func liftOptionString() (string, bool) {
	r := *(*resultStringErrMem)(cabi.Ret())
	if r.IsErr == 0 {
		cabi.Unpin()
		return "", false
	}
	s := string(cabi.Bytes(r.Ptr, r.Len))
	cabi.Unpin()
	return s, true
}

//go:wasmimport wasitls:tls/extensions@0.1.0 client-last-error
func clientLastError(c uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 server-last-error
func serverLastError(c uint32, ret unsafe.Pointer)
