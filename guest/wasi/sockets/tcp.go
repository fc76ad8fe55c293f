//go:build wasip1

package sockets

import (
	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/tcp"
	tcpcreatesocket "github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/tcp-create-socket"
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

func (s TCPSocket) b() tcp.TCPSocketBorrow { return tcp.TCPSocketBorrow(s) }

// CreateTCPSocket creates an unbound, unconnected socket.
//
//	create-tcp-socket: func(address-family: ip-address-family) -> result<tcp-socket, error-code>;
func CreateTCPSocket(family IPAddressFamily) (TCPSocket, error) {
	h, err := tcpcreatesocket.CreateTCPSocket(tcp.IPAddressFamily(family))
	return TCPSocket(h), errorCode(err)
}

// StartBind starts binding to local.
//
//	start-bind: func(network: borrow<network>, local-address: ip-socket-address) -> result<_, error-code>;
func (s TCPSocket) StartBind(n Network, local IPSocketAddress) error {
	return errorCode(s.b().StartBind(n.Borrow(), local.toWIT()))
}

// FinishBind finishes a bind.
//
//	finish-bind: func() -> result<_, error-code>;
func (s TCPSocket) FinishBind() error { return errorCode(s.b().FinishBind()) }

// StartConnect starts connecting to remote.
//
//	start-connect: func(network: borrow<network>, remote-address: ip-socket-address) -> result<_, error-code>;
func (s TCPSocket) StartConnect(n Network, remote IPSocketAddress) error {
	return errorCode(s.b().StartConnect(n.Borrow(), remote.toWIT()))
}

// FinishConnect finishes a connect; it reports ErrorWouldBlock until the
// socket's pollable is ready. The streams are children of s.
//
//	finish-connect: func() -> result<tuple<input-stream, output-stream>, error-code>;
func (s TCPSocket) FinishConnect() (io.InputStream, io.OutputStream, error) {
	t, err := s.b().FinishConnect()
	if err != nil {
		return 0, 0, errorCode(err)
	}
	return io.InputStream(t.F0), io.OutputStream(t.F1), nil
}

// StartListen starts listening.
//
//	start-listen: func() -> result<_, error-code>;
func (s TCPSocket) StartListen() error { return errorCode(s.b().StartListen()) }

// FinishListen finishes listening.
//
//	finish-listen: func() -> result<_, error-code>;
func (s TCPSocket) FinishListen() error { return errorCode(s.b().FinishListen()) }

// Accept accepts a connection; it reports ErrorWouldBlock when none is
// pending. The streams are children of the returned socket.
//
//	accept: func() -> result<tuple<tcp-socket, input-stream, output-stream>, error-code>;
func (s TCPSocket) Accept() (TCPSocket, io.InputStream, io.OutputStream, error) {
	t, err := s.b().Accept()
	if err != nil {
		return 0, 0, 0, errorCode(err)
	}
	return TCPSocket(t.F0), io.InputStream(t.F1), io.OutputStream(t.F2), nil
}

// LocalAddress returns the bound address.
//
//	local-address: func() -> result<ip-socket-address, error-code>;
func (s TCPSocket) LocalAddress() (IPSocketAddress, error) {
	a, err := s.b().LocalAddress()
	if err != nil {
		return IPSocketAddress{}, errorCode(err)
	}
	return socketAddressFromWIT(a), nil
}

// RemoteAddress returns the peer's address.
//
//	remote-address: func() -> result<ip-socket-address, error-code>;
func (s TCPSocket) RemoteAddress() (IPSocketAddress, error) {
	a, err := s.b().RemoteAddress()
	if err != nil {
		return IPSocketAddress{}, errorCode(err)
	}
	return socketAddressFromWIT(a), nil
}

// IsListening reports whether the socket is listening.
//
//	is-listening: func() -> bool;
func (s TCPSocket) IsListening() bool { return s.b().IsListening() }

// AddressFamily returns the socket's address family.
//
//	address-family: func() -> ip-address-family;
func (s TCPSocket) AddressFamily() IPAddressFamily { return IPAddressFamily(s.b().AddressFamily()) }

// SetListenBacklogSize hints the size of the accept queue.
//
//	set-listen-backlog-size: func(value: u64) -> result<_, error-code>;
func (s TCPSocket) SetListenBacklogSize(v uint64) error {
	return errorCode(s.b().SetListenBacklogSize(v))
}

// KeepAliveEnabled reports SO_KEEPALIVE.
//
//	keep-alive-enabled: func() -> result<bool, error-code>;
func (s TCPSocket) KeepAliveEnabled() (bool, error) {
	v, err := s.b().KeepAliveEnabled()
	return v, errorCode(err)
}

// SetKeepAliveEnabled sets SO_KEEPALIVE.
//
//	set-keep-alive-enabled: func(value: bool) -> result<_, error-code>;
func (s TCPSocket) SetKeepAliveEnabled(v bool) error {
	return errorCode(s.b().SetKeepAliveEnabled(v))
}

// KeepAliveIdleTime returns TCP_KEEPIDLE in nanoseconds.
//
//	keep-alive-idle-time: func() -> result<duration, error-code>;
func (s TCPSocket) KeepAliveIdleTime() (uint64, error) {
	v, err := s.b().KeepAliveIdleTime()
	return v, errorCode(err)
}

// SetKeepAliveIdleTime sets TCP_KEEPIDLE in nanoseconds.
//
//	set-keep-alive-idle-time: func(value: duration) -> result<_, error-code>;
func (s TCPSocket) SetKeepAliveIdleTime(v uint64) error {
	return errorCode(s.b().SetKeepAliveIdleTime(v))
}

// KeepAliveInterval returns TCP_KEEPINTVL in nanoseconds.
//
//	keep-alive-interval: func() -> result<duration, error-code>;
func (s TCPSocket) KeepAliveInterval() (uint64, error) {
	v, err := s.b().KeepAliveInterval()
	return v, errorCode(err)
}

// SetKeepAliveInterval sets TCP_KEEPINTVL in nanoseconds.
//
//	set-keep-alive-interval: func(value: duration) -> result<_, error-code>;
func (s TCPSocket) SetKeepAliveInterval(v uint64) error {
	return errorCode(s.b().SetKeepAliveInterval(v))
}

// KeepAliveCount returns TCP_KEEPCNT.
//
//	keep-alive-count: func() -> result<u32, error-code>;
func (s TCPSocket) KeepAliveCount() (uint32, error) {
	v, err := s.b().KeepAliveCount()
	return v, errorCode(err)
}

// SetKeepAliveCount sets TCP_KEEPCNT.
//
//	set-keep-alive-count: func(value: u32) -> result<_, error-code>;
func (s TCPSocket) SetKeepAliveCount(v uint32) error {
	return errorCode(s.b().SetKeepAliveCount(v))
}

// HopLimit returns IP_TTL / IPV6_UNICAST_HOPS.
//
//	hop-limit: func() -> result<u8, error-code>;
func (s TCPSocket) HopLimit() (uint8, error) {
	v, err := s.b().HopLimit()
	return v, errorCode(err)
}

// SetHopLimit sets IP_TTL / IPV6_UNICAST_HOPS.
//
//	set-hop-limit: func(value: u8) -> result<_, error-code>;
func (s TCPSocket) SetHopLimit(v uint8) error {
	return errorCode(s.b().SetHopLimit(v))
}

// ReceiveBufferSize returns SO_RCVBUF.
//
//	receive-buffer-size: func() -> result<u64, error-code>;
func (s TCPSocket) ReceiveBufferSize() (uint64, error) {
	v, err := s.b().ReceiveBufferSize()
	return v, errorCode(err)
}

// SetReceiveBufferSize sets SO_RCVBUF.
//
//	set-receive-buffer-size: func(value: u64) -> result<_, error-code>;
func (s TCPSocket) SetReceiveBufferSize(v uint64) error {
	return errorCode(s.b().SetReceiveBufferSize(v))
}

// SendBufferSize returns SO_SNDBUF.
//
//	send-buffer-size: func() -> result<u64, error-code>;
func (s TCPSocket) SendBufferSize() (uint64, error) {
	v, err := s.b().SendBufferSize()
	return v, errorCode(err)
}

// SetSendBufferSize sets SO_SNDBUF.
//
//	set-send-buffer-size: func(value: u64) -> result<_, error-code>;
func (s TCPSocket) SetSendBufferSize(v uint64) error {
	return errorCode(s.b().SetSendBufferSize(v))
}

// Subscribe returns a pollable, a child of s, ready when a pending
// finish-bind, finish-connect, finish-listen or accept can proceed.
//
//	subscribe: func() -> pollable;
func (s TCPSocket) Subscribe() io.Pollable { return s.b().Subscribe() }

// Shutdown shuts down one or both directions of a connected socket.
//
//	shutdown: func(shutdown-type: shutdown-type) -> result<_, error-code>;
func (s TCPSocket) Shutdown(how ShutdownType) error {
	return errorCode(s.b().Shutdown(tcp.ShutdownType(how)))
}

// Drop drops the handle. Its streams and pollables must be dropped first.
func (s TCPSocket) Drop() { tcp.TCPSocket(s).Drop() }
