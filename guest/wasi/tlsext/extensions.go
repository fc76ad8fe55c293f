//go:build wasip1

package tlsext

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/tls"
)

// NamedGroup is a TLS supported group by IANA code point.
type NamedGroup = uint16

func liftResult() error {
	r := *(*resultStringErrMem)(cabi.Ret())
	if r.IsErr == 0 {
		cabi.Unpin()
		return nil
	}
	msg := string(cabi.Bytes(r.Ptr, r.Len))
	cabi.Unpin()
	return errors.New(msg)
}

func liftGroup() (NamedGroup, bool) {
	r := *(*optionU16Mem)(cabi.Ret())
	return r.Value, r.IsSome != 0
}

// ConfigureClientProtocolVersions sets the versions the client may negotiate.
//
//	configure-client-protocol-versions: func(handshake: borrow<client-handshake>, value: list<protocol-version>) -> result<_, string>;
func ConfigureClientProtocolVersions(h tls.ClientHandshake, v []uint16) error {
	v = append([]uint16(nil), v...)
	configureClientProtocolVersions(uint32(h), cabi.Uint16sAddr(v), uint32(len(v)), cabi.Ret())
	runtime.KeepAlive(v)
	return liftResult()
}

// ConfigureClientCipherSuites sets the suites the client offers.
//
//	configure-client-cipher-suites: func(handshake: borrow<client-handshake>, value: list<cipher-suite>) -> result<_, string>;
func ConfigureClientCipherSuites(h tls.ClientHandshake, v []uint16) error {
	v = append([]uint16(nil), v...)
	configureClientCipherSuites(uint32(h), cabi.Uint16sAddr(v), uint32(len(v)), cabi.Ret())
	runtime.KeepAlive(v)
	return liftResult()
}

// ConfigureClientGroups sets the groups the client offers; the first
// keyShares get a key share.
//
//	configure-client-groups: func(handshake: borrow<client-handshake>, value: list<named-group>, key-shares: u8) -> result<_, string>;
func ConfigureClientGroups(h tls.ClientHandshake, v []NamedGroup, keyShares uint8) error {
	v = append([]uint16(nil), v...)
	configureClientGroups(uint32(h), cabi.Uint16sAddr(v), uint32(len(v)), uint32(keyShares), cabi.Ret())
	runtime.KeepAlive(v)
	return liftResult()
}

// ConfigureServerProtocolVersions sets the versions the server accepts.
//
//	configure-server-protocol-versions: func(handshake: borrow<server-handshake>, value: list<protocol-version>) -> result<_, string>;
func ConfigureServerProtocolVersions(h tls.ServerHandshake, v []uint16) error {
	v = append([]uint16(nil), v...)
	configureServerProtocolVersions(uint32(h), cabi.Uint16sAddr(v), uint32(len(v)), cabi.Ret())
	runtime.KeepAlive(v)
	return liftResult()
}

// ConfigureServerCipherSuites sets the suites the server accepts.
//
//	configure-server-cipher-suites: func(handshake: borrow<server-handshake>, value: list<cipher-suite>) -> result<_, string>;
func ConfigureServerCipherSuites(h tls.ServerHandshake, v []uint16) error {
	v = append([]uint16(nil), v...)
	configureServerCipherSuites(uint32(h), cabi.Uint16sAddr(v), uint32(len(v)), cabi.Ret())
	runtime.KeepAlive(v)
	return liftResult()
}

// ConfigureServerGroups sets the groups the server accepts.
//
//	configure-server-groups: func(handshake: borrow<server-handshake>, value: list<named-group>) -> result<_, string>;
func ConfigureServerGroups(h tls.ServerHandshake, v []NamedGroup) error {
	v = append([]uint16(nil), v...)
	configureServerGroups(uint32(h), cabi.Uint16sAddr(v), uint32(len(v)), cabi.Ret())
	runtime.KeepAlive(v)
	return liftResult()
}

// ClientNegotiatedGroup returns the key-exchange group of the handshake.
//
//	client-negotiated-group: func(connection: borrow<client-connection>) -> option<named-group>;
func ClientNegotiatedGroup(c tls.ClientConnection) (NamedGroup, bool) {
	clientNegotiatedGroup(uint32(c), cabi.Ret())
	return liftGroup()
}

// ServerNegotiatedGroup returns the key-exchange group of the handshake.
//
//	server-negotiated-group: func(connection: borrow<server-connection>) -> option<named-group>;
func ServerNegotiatedGroup(c tls.ServerConnection) (NamedGroup, bool) {
	serverNegotiatedGroup(uint32(c), cabi.Ret())
	return liftGroup()
}

// CloseClientOutput flushes the cleartext output and sends close_notify.
//
//	close-client-output: func(connection: borrow<client-connection>) -> result<_, string>;
func CloseClientOutput(c tls.ClientConnection) error {
	closeClientOutput(uint32(c), cabi.Ret())
	return liftResult()
}

// CloseServerOutput flushes the cleartext output and sends close_notify.
//
//	close-server-output: func(connection: borrow<server-connection>) -> result<_, string>;
func CloseServerOutput(c tls.ServerConnection) error {
	closeServerOutput(uint32(c), cabi.Ret())
	return liftResult()
}

//go:wasmimport wasitls:tls/extensions@0.1.0 configure-client-protocol-versions
func configureClientProtocolVersions(h uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 configure-client-cipher-suites
func configureClientCipherSuites(h uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 configure-client-groups
func configureClientGroups(h uint32, p unsafe.Pointer, n uint32, keyShares uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 configure-server-protocol-versions
func configureServerProtocolVersions(h uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 configure-server-cipher-suites
func configureServerCipherSuites(h uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 configure-server-groups
func configureServerGroups(h uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 client-negotiated-group
func clientNegotiatedGroup(c uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 server-negotiated-group
func serverNegotiatedGroup(c uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 close-client-output
func closeClientOutput(c uint32, ret unsafe.Pointer)

//go:wasmimport wasitls:tls/extensions@0.1.0 close-server-output
func closeServerOutput(c uint32, ret unsafe.Pointer)
