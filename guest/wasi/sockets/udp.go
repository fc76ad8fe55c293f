//go:build wasip1

package sockets

import (
	"github.com/wasitls/wasitls/cabi/witval"
	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/udp"
	udpcreatesocket "github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/udp-create-socket"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// UDPSocket is the resource wasi:sockets/udp.udp-socket.
type UDPSocket uint32

func (s UDPSocket) b() udp.UDPSocketBorrow { return udp.UDPSocketBorrow(s) }

// IncomingDatagram is the record incoming-datagram: a received payload and
// its sender.
type IncomingDatagram struct {
	Data          []byte
	RemoteAddress IPSocketAddress
}

// OutgoingDatagram is the record outgoing-datagram: a payload and where to
// send it. RemoteAddress is nil on a stream limited to one remote address
// (send), else required (sendto).
type OutgoingDatagram struct {
	Data          []byte
	RemoteAddress *IPSocketAddress
}

// CreateUDPSocket creates an unbound socket.
//
//	create-udp-socket: func(address-family: ip-address-family) -> result<udp-socket, error-code>;
func CreateUDPSocket(family IPAddressFamily) (UDPSocket, error) {
	h, err := udpcreatesocket.CreateUDPSocket(udp.IPAddressFamily(family))
	return UDPSocket(h), errorCode(err)
}

// StartBind starts binding to local.
//
//	start-bind: func(network: borrow<network>, local-address: ip-socket-address) -> result<_, error-code>;
func (s UDPSocket) StartBind(n Network, local IPSocketAddress) error {
	return errorCode(s.b().StartBind(n.Borrow(), local.toWIT()))
}

// FinishBind finishes a bind; it reports ErrorWouldBlock until the
// socket's pollable is ready.
//
//	finish-bind: func() -> result<_, error-code>;
func (s UDPSocket) FinishBind() error { return errorCode(s.b().FinishBind()) }

// Stream returns the socket's datagram streams, children of s, limited to
// remote when it is not nil. A later call makes the previous pair fail.
//
//	%stream: func(remote-address: option<ip-socket-address>) -> result<tuple<incoming-datagram-stream, outgoing-datagram-stream>, error-code>;
func (s UDPSocket) Stream(remote *IPSocketAddress) (IncomingDatagramStream, OutgoingDatagramStream, error) {
	t, err := s.b().Stream(optionAddress(remote))
	if err != nil {
		return 0, 0, errorCode(err)
	}
	return IncomingDatagramStream(t.F0), OutgoingDatagramStream(t.F1), nil
}

// LocalAddress returns the bound address.
//
//	local-address: func() -> result<ip-socket-address, error-code>;
func (s UDPSocket) LocalAddress() (IPSocketAddress, error) {
	a, err := s.b().LocalAddress()
	if err != nil {
		return IPSocketAddress{}, errorCode(err)
	}
	return socketAddressFromWIT(a), nil
}

// RemoteAddress returns the address the streams are limited to.
//
//	remote-address: func() -> result<ip-socket-address, error-code>;
func (s UDPSocket) RemoteAddress() (IPSocketAddress, error) {
	a, err := s.b().RemoteAddress()
	if err != nil {
		return IPSocketAddress{}, errorCode(err)
	}
	return socketAddressFromWIT(a), nil
}

// AddressFamily returns the socket's address family.
//
//	address-family: func() -> ip-address-family;
func (s UDPSocket) AddressFamily() IPAddressFamily { return IPAddressFamily(s.b().AddressFamily()) }

// UnicastHopLimit returns IP_TTL / IPV6_UNICAST_HOPS.
//
//	unicast-hop-limit: func() -> result<u8, error-code>;
func (s UDPSocket) UnicastHopLimit() (uint8, error) {
	v, err := s.b().UnicastHopLimit()
	return v, errorCode(err)
}

// SetUnicastHopLimit sets IP_TTL / IPV6_UNICAST_HOPS.
//
//	set-unicast-hop-limit: func(value: u8) -> result<_, error-code>;
func (s UDPSocket) SetUnicastHopLimit(v uint8) error {
	return errorCode(s.b().SetUnicastHopLimit(v))
}

// ReceiveBufferSize returns SO_RCVBUF.
//
//	receive-buffer-size: func() -> result<u64, error-code>;
func (s UDPSocket) ReceiveBufferSize() (uint64, error) {
	v, err := s.b().ReceiveBufferSize()
	return v, errorCode(err)
}

// SetReceiveBufferSize sets SO_RCVBUF.
//
//	set-receive-buffer-size: func(value: u64) -> result<_, error-code>;
func (s UDPSocket) SetReceiveBufferSize(v uint64) error {
	return errorCode(s.b().SetReceiveBufferSize(v))
}

// SendBufferSize returns SO_SNDBUF.
//
//	send-buffer-size: func() -> result<u64, error-code>;
func (s UDPSocket) SendBufferSize() (uint64, error) {
	v, err := s.b().SendBufferSize()
	return v, errorCode(err)
}

// SetSendBufferSize sets SO_SNDBUF.
//
//	set-send-buffer-size: func(value: u64) -> result<_, error-code>;
func (s UDPSocket) SetSendBufferSize(v uint64) error {
	return errorCode(s.b().SetSendBufferSize(v))
}

// Subscribe returns a pollable, a child of s, ready when a pending
// finish-bind can proceed.
//
//	subscribe: func() -> pollable;
func (s UDPSocket) Subscribe() io.Pollable { return s.b().Subscribe() }

// Drop drops the handle. Its streams and pollables must be dropped first.
func (s UDPSocket) Drop() { udp.UDPSocket(s).Drop() }

// IncomingDatagramStream is the resource
// wasi:sockets/udp.incoming-datagram-stream.
type IncomingDatagramStream uint32

func (s IncomingDatagramStream) b() udp.IncomingDatagramStreamBorrow {
	return udp.IncomingDatagramStreamBorrow(s)
}

// Receive returns up to max datagrams already received, never waiting: an
// empty result means none is queued (wait on [IncomingDatagramStream.Subscribe]).
//
//	receive: func(max-results: u64) -> result<list<incoming-datagram>, error-code>;
func (s IncomingDatagramStream) Receive(max uint64) ([]IncomingDatagram, error) {
	l, err := s.b().Receive(max)
	if err != nil {
		return nil, errorCode(err)
	}
	out := make([]IncomingDatagram, len(l))
	for i, d := range l {
		out[i] = IncomingDatagram{Data: d.Data, RemoteAddress: socketAddressFromWIT(d.RemoteAddress)}
	}
	return out, nil
}

// Subscribe returns a pollable, a child of s, ready when a datagram is
// queued (or the stream failed).
//
//	subscribe: func() -> pollable;
func (s IncomingDatagramStream) Subscribe() io.Pollable { return s.b().Subscribe() }

// Drop drops the handle. Child pollables must be dropped first.
func (s IncomingDatagramStream) Drop() { udp.IncomingDatagramStream(s).Drop() }

// OutgoingDatagramStream is the resource
// wasi:sockets/udp.outgoing-datagram-stream.
type OutgoingDatagramStream uint32

func (s OutgoingDatagramStream) b() udp.OutgoingDatagramStreamBorrow {
	return udp.OutgoingDatagramStreamBorrow(s)
}

// CheckSend returns how many datagrams the next Send may carry; zero means
// none now (wait on [OutgoingDatagramStream.Subscribe]). Sending more than
// it granted traps.
//
//	check-send: func() -> result<u64, error-code>;
func (s OutgoingDatagramStream) CheckSend() (uint64, error) {
	n, err := s.b().CheckSend()
	return n, errorCode(err)
}

// Send sends datagrams and returns how many were sent; it fails only if
// the first one could not be.
//
//	send: func(datagrams: list<outgoing-datagram>) -> result<u64, error-code>;
func (s OutgoingDatagramStream) Send(datagrams []OutgoingDatagram) (uint64, error) {
	l := make([]udp.OutgoingDatagram, len(datagrams))
	for i, d := range datagrams {
		l[i] = udp.OutgoingDatagram{Data: d.Data, RemoteAddress: optionAddress(d.RemoteAddress)}
	}
	n, err := s.b().Send(l)
	return n, errorCode(err)
}

// Subscribe returns a pollable, a child of s, ready when CheckSend grants
// at least one datagram.
//
//	subscribe: func() -> pollable;
func (s OutgoingDatagramStream) Subscribe() io.Pollable { return s.b().Subscribe() }

// Drop drops the handle. Child pollables must be dropped first.
func (s OutgoingDatagramStream) Drop() { udp.OutgoingDatagramStream(s).Drop() }

func optionAddress(a *IPSocketAddress) witval.Option[network.IPSocketAddress] {
	if a == nil {
		return witval.None[network.IPSocketAddress]()
	}
	return witval.Some(a.toWIT())
}
