//go:build wasip1

package sockets

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// ShutdownType is the enum wasi:sockets/tcp.shutdown-type.
type ShutdownType uint8

// The shutdown-type cases.
const (
	ShutdownReceive ShutdownType = iota
	ShutdownSend
	ShutdownBoth
)

// TCPSocket is the resource wasi:sockets/tcp.tcp-socket.
type TCPSocket uint32

// CreateTCPSocket creates an unbound, unconnected socket.
//
//	create-tcp-socket: func(address-family: ip-address-family) -> result<tcp-socket, error-code>;
func CreateTCPSocket(family IPAddressFamily) (TCPSocket, error) {
	createTCPSocket(uint32(family), cabi.Ret())
	h, err := liftU32()
	return TCPSocket(h), err
}

// StartBind starts binding to local.
//
//	start-bind: func(network: borrow<network>, local-address: ip-socket-address) -> result<_, error-code>;
func (s TCPSocket) StartBind(n Network, local IPSocketAddress) error {
	t, p := local.flat()
	tcpStartBind(uint32(s), uint32(n), t, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], cabi.Ret())
	return liftUnit()
}

// FinishBind finishes a bind.
//
//	finish-bind: func() -> result<_, error-code>;
func (s TCPSocket) FinishBind() error {
	tcpFinishBind(uint32(s), cabi.Ret())
	return liftUnit()
}

// StartConnect starts connecting to remote.
//
//	start-connect: func(network: borrow<network>, remote-address: ip-socket-address) -> result<_, error-code>;
func (s TCPSocket) StartConnect(n Network, remote IPSocketAddress) error {
	t, p := remote.flat()
	tcpStartConnect(uint32(s), uint32(n), t, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], cabi.Ret())
	return liftUnit()
}

// FinishConnect finishes a connect; it reports ErrorWouldBlock until the
// socket's pollable is ready. The streams are children of s.
//
//	finish-connect: func() -> result<tuple<input-stream, output-stream>, error-code>;
func (s TCPSocket) FinishConnect() (io.InputStream, io.OutputStream, error) {
	tcpFinishConnect(uint32(s), cabi.Ret())
	r := *(*resultTuple2Mem)(cabi.Ret())
	if r.IsErr != 0 {
		return 0, 0, ErrorCode(uint8(r.Payload[0]))
	}
	return io.InputStream(r.Payload[0]), io.OutputStream(r.Payload[1]), nil
}

// StartListen starts listening.
//
//	start-listen: func() -> result<_, error-code>;
func (s TCPSocket) StartListen() error {
	tcpStartListen(uint32(s), cabi.Ret())
	return liftUnit()
}

// FinishListen finishes listening.
//
//	finish-listen: func() -> result<_, error-code>;
func (s TCPSocket) FinishListen() error {
	tcpFinishListen(uint32(s), cabi.Ret())
	return liftUnit()
}

// Accept accepts a connection; it reports ErrorWouldBlock when none is
// pending. The streams are children of the returned socket.
//
//	accept: func() -> result<tuple<tcp-socket, input-stream, output-stream>, error-code>;
func (s TCPSocket) Accept() (TCPSocket, io.InputStream, io.OutputStream, error) {
	tcpAccept(uint32(s), cabi.Ret())
	r := *(*resultTuple3Mem)(cabi.Ret())
	if r.IsErr != 0 {
		return 0, 0, 0, ErrorCode(uint8(r.Payload[0]))
	}
	return TCPSocket(r.Payload[0]), io.InputStream(r.Payload[1]), io.OutputStream(r.Payload[2]), nil
}

// LocalAddress returns the bound address.
//
//	local-address: func() -> result<ip-socket-address, error-code>;
func (s TCPSocket) LocalAddress() (IPSocketAddress, error) {
	tcpLocalAddress(uint32(s), cabi.Ret())
	return liftAddressResult()
}

// RemoteAddress returns the peer's address.
//
//	remote-address: func() -> result<ip-socket-address, error-code>;
func (s TCPSocket) RemoteAddress() (IPSocketAddress, error) {
	tcpRemoteAddress(uint32(s), cabi.Ret())
	return liftAddressResult()
}

func liftAddressResult() (IPSocketAddress, error) {
	r := *(*resultIPSocketAddressMem)(cabi.Ret())
	if r.IsErr != 0 {
		return IPSocketAddress{}, ErrorCode(r.Payload.Tag)
	}
	return liftIPSocketAddress(&r.Payload), nil
}

// IsListening reports whether the socket is listening.
//
//	is-listening: func() -> bool;
func (s TCPSocket) IsListening() bool { return tcpIsListening(uint32(s)) != 0 }

// AddressFamily returns the socket's address family.
//
//	address-family: func() -> ip-address-family;
func (s TCPSocket) AddressFamily() IPAddressFamily {
	return IPAddressFamily(tcpAddressFamily(uint32(s)))
}

// SetListenBacklogSize hints the size of the accept queue.
//
//	set-listen-backlog-size: func(value: u64) -> result<_, error-code>;
func (s TCPSocket) SetListenBacklogSize(v uint64) error {
	tcpSetListenBacklogSize(uint32(s), v, cabi.Ret())
	return liftUnit()
}

// KeepAliveEnabled reports SO_KEEPALIVE.
//
//	keep-alive-enabled: func() -> result<bool, error-code>;
func (s TCPSocket) KeepAliveEnabled() (bool, error) {
	tcpKeepAliveEnabled(uint32(s), cabi.Ret())
	v, err := liftU8()
	return v != 0, err
}

// SetKeepAliveEnabled sets SO_KEEPALIVE.
//
//	set-keep-alive-enabled: func(value: bool) -> result<_, error-code>;
func (s TCPSocket) SetKeepAliveEnabled(v bool) error {
	var b uint32
	if v {
		b = 1
	}
	tcpSetKeepAliveEnabled(uint32(s), b, cabi.Ret())
	return liftUnit()
}

// KeepAliveIdleTime returns TCP_KEEPIDLE in nanoseconds.
//
//	keep-alive-idle-time: func() -> result<duration, error-code>;
func (s TCPSocket) KeepAliveIdleTime() (uint64, error) {
	tcpKeepAliveIdleTime(uint32(s), cabi.Ret())
	return liftU64()
}

// SetKeepAliveIdleTime sets TCP_KEEPIDLE in nanoseconds.
//
//	set-keep-alive-idle-time: func(value: duration) -> result<_, error-code>;
func (s TCPSocket) SetKeepAliveIdleTime(v uint64) error {
	tcpSetKeepAliveIdleTime(uint32(s), v, cabi.Ret())
	return liftUnit()
}

// KeepAliveInterval returns TCP_KEEPINTVL in nanoseconds.
//
//	keep-alive-interval: func() -> result<duration, error-code>;
func (s TCPSocket) KeepAliveInterval() (uint64, error) {
	tcpKeepAliveInterval(uint32(s), cabi.Ret())
	return liftU64()
}

// SetKeepAliveInterval sets TCP_KEEPINTVL in nanoseconds.
//
//	set-keep-alive-interval: func(value: duration) -> result<_, error-code>;
func (s TCPSocket) SetKeepAliveInterval(v uint64) error {
	tcpSetKeepAliveInterval(uint32(s), v, cabi.Ret())
	return liftUnit()
}

// KeepAliveCount returns TCP_KEEPCNT.
//
//	keep-alive-count: func() -> result<u32, error-code>;
func (s TCPSocket) KeepAliveCount() (uint32, error) {
	tcpKeepAliveCount(uint32(s), cabi.Ret())
	return liftU32()
}

// SetKeepAliveCount sets TCP_KEEPCNT.
//
//	set-keep-alive-count: func(value: u32) -> result<_, error-code>;
func (s TCPSocket) SetKeepAliveCount(v uint32) error {
	tcpSetKeepAliveCount(uint32(s), v, cabi.Ret())
	return liftUnit()
}

// HopLimit returns IP_TTL / IPV6_UNICAST_HOPS.
//
//	hop-limit: func() -> result<u8, error-code>;
func (s TCPSocket) HopLimit() (uint8, error) {
	tcpHopLimit(uint32(s), cabi.Ret())
	return liftU8()
}

// SetHopLimit sets IP_TTL / IPV6_UNICAST_HOPS.
//
//	set-hop-limit: func(value: u8) -> result<_, error-code>;
func (s TCPSocket) SetHopLimit(v uint8) error {
	tcpSetHopLimit(uint32(s), uint32(v), cabi.Ret())
	return liftUnit()
}

// ReceiveBufferSize returns SO_RCVBUF.
//
//	receive-buffer-size: func() -> result<u64, error-code>;
func (s TCPSocket) ReceiveBufferSize() (uint64, error) {
	tcpReceiveBufferSize(uint32(s), cabi.Ret())
	return liftU64()
}

// SetReceiveBufferSize sets SO_RCVBUF.
//
//	set-receive-buffer-size: func(value: u64) -> result<_, error-code>;
func (s TCPSocket) SetReceiveBufferSize(v uint64) error {
	tcpSetReceiveBufferSize(uint32(s), v, cabi.Ret())
	return liftUnit()
}

// SendBufferSize returns SO_SNDBUF.
//
//	send-buffer-size: func() -> result<u64, error-code>;
func (s TCPSocket) SendBufferSize() (uint64, error) {
	tcpSendBufferSize(uint32(s), cabi.Ret())
	return liftU64()
}

// SetSendBufferSize sets SO_SNDBUF.
//
//	set-send-buffer-size: func(value: u64) -> result<_, error-code>;
func (s TCPSocket) SetSendBufferSize(v uint64) error {
	tcpSetSendBufferSize(uint32(s), v, cabi.Ret())
	return liftUnit()
}

// Subscribe returns a pollable, a child of s, ready when a pending
// finish-bind, finish-connect, finish-listen or accept can proceed.
//
//	subscribe: func() -> pollable;
func (s TCPSocket) Subscribe() io.Pollable { return io.Pollable(tcpSubscribe(uint32(s))) }

// Shutdown shuts down one or both directions of a connected socket.
//
//	shutdown: func(shutdown-type: shutdown-type) -> result<_, error-code>;
func (s TCPSocket) Shutdown(how ShutdownType) error {
	tcpShutdown(uint32(s), uint32(how), cabi.Ret())
	return liftUnit()
}

// Drop drops the handle. Its streams and pollables must be dropped first.
func (s TCPSocket) Drop() { tcpDrop(uint32(s)) }

//go:wasmimport wasi:sockets/tcp-create-socket@0.2.8 create-tcp-socket
func createTCPSocket(family uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.start-bind
func tcpStartBind(self, network, tag, p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10 uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.finish-bind
func tcpFinishBind(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.start-connect
func tcpStartConnect(self, network, tag, p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10 uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.finish-connect
func tcpFinishConnect(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.start-listen
func tcpStartListen(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.finish-listen
func tcpFinishListen(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.accept
func tcpAccept(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.local-address
func tcpLocalAddress(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.remote-address
func tcpRemoteAddress(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.is-listening
func tcpIsListening(self uint32) uint32

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.address-family
func tcpAddressFamily(self uint32) uint32

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-listen-backlog-size
func tcpSetListenBacklogSize(self uint32, v uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.keep-alive-enabled
func tcpKeepAliveEnabled(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-keep-alive-enabled
func tcpSetKeepAliveEnabled(self uint32, v uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.keep-alive-idle-time
func tcpKeepAliveIdleTime(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-keep-alive-idle-time
func tcpSetKeepAliveIdleTime(self uint32, v uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.keep-alive-interval
func tcpKeepAliveInterval(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-keep-alive-interval
func tcpSetKeepAliveInterval(self uint32, v uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.keep-alive-count
func tcpKeepAliveCount(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-keep-alive-count
func tcpSetKeepAliveCount(self uint32, v uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.hop-limit
func tcpHopLimit(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-hop-limit
func tcpSetHopLimit(self uint32, v uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.receive-buffer-size
func tcpReceiveBufferSize(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-receive-buffer-size
func tcpSetReceiveBufferSize(self uint32, v uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.send-buffer-size
func tcpSendBufferSize(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-send-buffer-size
func tcpSetSendBufferSize(self uint32, v uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.subscribe
func tcpSubscribe(self uint32) uint32

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.shutdown
func tcpShutdown(self uint32, how uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [resource-drop]tcp-socket
func tcpDrop(self uint32)
