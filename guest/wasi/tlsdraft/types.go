//go:build wasip1

package tlsdraft

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// ErrConsumed is returned by Get after the future's value was taken.
var ErrConsumed = errors.New("wasi:tls: future value already taken")

// ClientHandshake is the resource client-handshake.
type ClientHandshake uint32

// NewClientHandshake starts a client handshake for serverName over raw
// streams; it takes ownership of both.
//
//	constructor(server-name: string, input: input-stream, output: output-stream);
func NewClientHandshake(serverName string, in io.InputStream, out io.OutputStream) ClientHandshake {
	h := clientHandshakeNew(cabi.StringAddr(serverName), uint32(len(serverName)), uint32(in), uint32(out))
	runtime.KeepAlive(serverName)
	return ClientHandshake(h)
}

// ClientHandshakeFinish consumes h and runs the handshake.
//
//	finish: static func(this: client-handshake) -> future-client-streams;
func ClientHandshakeFinish(h ClientHandshake) FutureClientStreams {
	return FutureClientStreams(clientHandshakeFinish(uint32(h)))
}

// Drop drops the handle.
func (h ClientHandshake) Drop() { clientHandshakeDrop(uint32(h)) }

// ClientConnection is the resource client-connection.
type ClientConnection uint32

// CloseOutput sends close_notify.
//
//	close-output: func();
func (c ClientConnection) CloseOutput() { clientConnectionCloseOutput(uint32(c)) }

// Drop drops the handle; its streams first.
func (c ClientConnection) Drop() { clientConnectionDrop(uint32(c)) }

// FutureClientStreams is the resource future-client-streams.
type FutureClientStreams uint32

// Subscribe returns a pollable ready when the handshake completed.
//
//	subscribe: func() -> pollable;
func (f FutureClientStreams) Subscribe() io.Pollable {
	return io.Pollable(futureClientStreamsSubscribe(uint32(f)))
}

// Get returns the connection and its cleartext streams (children of the
// connection); ready is false while pending. A failed handshake returns a
// *HandshakeError carrying the host's error resource.
//
//	get: func() -> option<result<result<tuple<client-connection, input-stream, output-stream>, io-error>>>;
func (f FutureClientStreams) Get() (c ClientConnection, in io.InputStream, out io.OutputStream, ready bool, err error) {
	futureClientStreamsGet(uint32(f), cabi.Ret())
	r := *(*futureClientStreamsGetMem)(cabi.Ret())
	switch {
	case r.IsSome == 0:
		return 0, 0, 0, false, nil
	case r.Outer != 0:
		return 0, 0, 0, true, ErrConsumed
	case r.Inner != 0:
		return 0, 0, 0, true, &HandshakeError{Err: io.Error(r.Handles[0])}
	}
	return ClientConnection(r.Handles[0]), io.InputStream(r.Handles[1]), io.OutputStream(r.Handles[2]), true, nil
}

// Drop drops the handle.
func (f FutureClientStreams) Drop() { futureClientStreamsDrop(uint32(f)) }

// HandshakeError is a failed handshake; Err is the host's owned error
// resource. Drop it when done.
type HandshakeError struct {
	Err io.Error
}

// Error implements error with the host's description.
func (e *HandshakeError) Error() string {
	return "wasi:tls: handshake failed: " + e.Err.ToDebugString()
}

// Drop drops the error resource.
func (e *HandshakeError) Drop() {
	if e.Err != 0 {
		e.Err.Drop()
		e.Err = 0
	}
}

//go:wasmimport wasi:tls/types@0.2.0-draft [constructor]client-handshake
func clientHandshakeNew(name unsafe.Pointer, nameLen uint32, in, out uint32) uint32

//go:wasmimport wasi:tls/types@0.2.0-draft [static]client-handshake.finish
func clientHandshakeFinish(this uint32) uint32

//go:wasmimport wasi:tls/types@0.2.0-draft [resource-drop]client-handshake
func clientHandshakeDrop(self uint32)

//go:wasmimport wasi:tls/types@0.2.0-draft [method]client-connection.close-output
func clientConnectionCloseOutput(self uint32)

//go:wasmimport wasi:tls/types@0.2.0-draft [resource-drop]client-connection
func clientConnectionDrop(self uint32)

//go:wasmimport wasi:tls/types@0.2.0-draft [method]future-client-streams.subscribe
func futureClientStreamsSubscribe(self uint32) uint32

//go:wasmimport wasi:tls/types@0.2.0-draft [method]future-client-streams.get
func futureClientStreamsGet(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:tls/types@0.2.0-draft [resource-drop]future-client-streams
func futureClientStreamsDrop(self uint32)
