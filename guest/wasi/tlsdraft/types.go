//go:build wasip1

package tlsdraft

import (
	"errors"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/tls/types"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// ErrConsumed is returned by Get after the future's value was taken.
var ErrConsumed = errors.New("wasi:tls: future value already taken")

// ClientHandshake is the resource client-handshake.
type ClientHandshake = types.ClientHandshake

// NewClientHandshake starts a client handshake for serverName over raw
// streams; it takes ownership of both.
//
//	constructor(server-name: string, input: input-stream, output: output-stream);
func NewClientHandshake(serverName string, in io.InputStream, out io.OutputStream) ClientHandshake {
	return types.NewClientHandshake(serverName, streams.InputStream(in), streams.OutputStream(out))
}

// ClientHandshakeFinish consumes h and runs the handshake.
//
//	finish: static func(this: client-handshake) -> future-client-streams;
func ClientHandshakeFinish(h ClientHandshake) FutureClientStreams {
	return FutureClientStreams(types.ClientHandshakeFinish(h))
}

// ClientConnection is the resource client-connection.
// CloseOutput sends close_notify; Drop drops the handle, its streams first.
type ClientConnection = types.ClientConnection

// FutureClientStreams is the resource future-client-streams.
type FutureClientStreams uint32

func (f FutureClientStreams) b() types.FutureClientStreamsBorrow {
	return types.FutureClientStreamsBorrow(f)
}

// Subscribe returns a pollable ready when the handshake completed.
//
//	subscribe: func() -> pollable;
func (f FutureClientStreams) Subscribe() io.Pollable {
	return f.b().Subscribe()
}

// Get returns the connection and its cleartext streams (children of the
// connection); ready is false while pending. A failed handshake returns a
// *HandshakeError carrying the host's error resource.
//
//	get: func() -> option<result<result<tuple<client-connection, input-stream, output-stream>, io-error>>>;
func (f FutureClientStreams) Get() (c ClientConnection, in io.InputStream, out io.OutputStream, ready bool, err error) {
	outer, ready := f.b().Get()
	if !ready {
		return 0, 0, 0, false, nil
	}
	inner, _, consumed := outer.Get()
	if consumed {
		return 0, 0, 0, true, ErrConsumed
	}
	t, e, failed := inner.Get()
	if failed {
		return 0, 0, 0, true, &HandshakeError{Err: e}
	}
	return t.F0, io.InputStream(t.F1), io.OutputStream(t.F2), true, nil
}

// Drop drops the handle.
func (f FutureClientStreams) Drop() { types.FutureClientStreams(f).Drop() }

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
