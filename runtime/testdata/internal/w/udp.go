//go:build wasip1

package w

import (
	"encoding/binary"
	"unsafe"
)

//go:wasmimport wasi:sockets/udp-create-socket@0.2.8 create-udp-socket
func createUDPSocket(family uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/udp@0.2.8 [method]udp-socket.start-bind
func udpStartBind(self, network, disc, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/udp@0.2.8 [method]udp-socket.finish-bind
func udpFinishBind(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/udp@0.2.8 [method]udp-socket.stream
func udpStream(self, some, disc, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/udp@0.2.8 [method]udp-socket.local-address
func udpLocalAddress(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/udp@0.2.8 [method]incoming-datagram-stream.receive
func udpReceive(self uint32, max uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/udp@0.2.8 [method]incoming-datagram-stream.subscribe
func udpInSubscribe(self uint32) uint32

//go:wasmimport wasi:sockets/udp@0.2.8 [method]outgoing-datagram-stream.check-send
func udpCheckSend(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/udp@0.2.8 [method]outgoing-datagram-stream.send
func udpSend(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/udp@0.2.8 [method]outgoing-datagram-stream.subscribe
func udpOutSubscribe(self uint32) uint32

//go:wasmimport wasi:sockets/udp@0.2.8 [resource-drop]udp-socket
func dropUDPSocket(self uint32)

//go:wasmimport wasi:sockets/udp@0.2.8 [resource-drop]incoming-datagram-stream
func dropIncoming(self uint32)

//go:wasmimport wasi:sockets/udp@0.2.8 [resource-drop]outgoing-datagram-stream
func dropOutgoing(self uint32)

// CreateUDP4 creates an IPv4 UDP socket: the handle, or 0 and an error
// code plus one.
func CreateUDP4() (uint32, uint32) {
	createUDPSocket(0, retp())
	if u8(0) != 0 {
		return 0, uint32(u8(4)) + 1
	}
	return u32(4), 0
}

// UDPBind binds to an IPv4 address: 0, or an error code plus one.
func UDPBind(sock, net uint32, a Addr) uint32 {
	udpStartBind(sock, net, 0, uint32(a.Port), uint32(a.IP[0]), uint32(a.IP[1]), uint32(a.IP[2]), uint32(a.IP[3]), 0, 0, 0, 0, 0, 0, retp())
	if u8(0) != 0 {
		return uint32(u8(1)) + 1
	}
	udpFinishBind(sock, retp())
	if u8(0) != 0 {
		return uint32(u8(1)) + 1
	}
	return 0
}

// UDPStream is stream, to a peer when peer is not nil: the two streams, or
// an error code plus one.
func UDPStream(sock uint32, peer *Addr) (in, out, code uint32) {
	if peer == nil {
		udpStream(sock, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, retp())
	} else {
		a := peer
		udpStream(sock, 1, 0, uint32(a.Port), uint32(a.IP[0]), uint32(a.IP[1]), uint32(a.IP[2]), uint32(a.IP[3]), 0, 0, 0, 0, 0, 0, retp())
	}
	if u8(0) != 0 {
		return 0, 0, uint32(u8(4)) + 1
	}
	return u32(4), u32(8), 0
}

// UDPLocalPort is the port of local-address.
func UDPLocalPort(sock uint32) uint16 {
	udpLocalAddress(sock, retp())
	return binary.LittleEndian.Uint16(rb()[8:])
}

// Datagram is an IPv4 datagram.
type Datagram struct {
	Data []byte
	Peer Addr
}

// Receive is receive: the datagrams, or an error code plus one.
func Receive(in uint32, max uint64) ([]Datagram, uint32) {
	udpReceive(in, max, retp())
	if u8(0) != 0 {
		return nil, uint32(u8(4)) + 1
	}
	p, n := u32(4), u32(8)
	var out []Datagram
	for i := uint32(0); i < n; i++ {
		e := bytesAt(p+40*i, 40)
		d := Datagram{Data: bytesAt(binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:]))}
		if e[8] == 0 {
			d.Peer.Port = binary.LittleEndian.Uint16(e[12:])
			copy(d.Peer.IP[:], e[14:18])
		}
		out = append(out, d)
	}
	Unpin()
	return out, 0
}

// CheckSend is check-send: the permit, or an error code plus one.
func CheckSend(out uint32) (uint64, uint32) {
	udpCheckSend(out, retp())
	if u8(0) != 0 {
		return 0, uint32(u8(8)) + 1
	}
	return u64(8), 0
}

// outgoing is the memory layout of one outgoing-datagram.
var outgoing [11]uint32

// Send sends one datagram, to peer when not nil: how many were sent, or
// an error code plus one.
func Send(out uint32, data []byte, peer *Addr) (uint64, uint32) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&outgoing[0])), 44)
	clear(b)
	if len(data) > 0 {
		binary.LittleEndian.PutUint32(b, uint32(uintptr(unsafe.Pointer(&data[0]))))
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	if peer != nil {
		b[8] = 1
		b[12] = 0 // ipv4
		binary.LittleEndian.PutUint16(b[16:], peer.Port)
		copy(b[18:22], peer.IP[:])
	}
	udpSend(out, unsafe.Pointer(&outgoing[0]), 1, retp())
	if u8(0) != 0 {
		return 0, uint32(u8(8)) + 1
	}
	return u64(8), 0
}

func InSubscribeUDP(in uint32) uint32   { return udpInSubscribe(in) }
func OutSubscribeUDP(out uint32) uint32 { return udpOutSubscribe(out) }
func DropUDP(sock uint32)               { dropUDPSocket(sock) }
func DropIncoming(in uint32)            { dropIncoming(in) }
func DropOutgoing(out uint32)           { dropOutgoing(out) }
