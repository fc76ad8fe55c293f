//go:build wasip1

// Package w is a minimal hand-written binding of WASI 0.2 imports for the
// runtime's test guests: raw Canonical ABI calls, no generated code, so that
// the tests check the host against an independent reading of the ABI.
package w

import (
	"encoding/binary"
	"unsafe"
)

// ret is the return area of every call: 16-byte aligned, static (never on
// a goroutine stack, which cabi_realloc may move).
var ret [8]uint64

func retp() unsafe.Pointer { return unsafe.Pointer(&ret[0]) }

func rb() []byte { return unsafe.Slice((*byte)(retp()), 64) }

func u8(off int) uint8   { return rb()[off] }
func u32(off int) uint32 { return binary.LittleEndian.Uint32(rb()[off:]) }
func u64(off int) uint64 { return binary.LittleEndian.Uint64(rb()[off:]) }

// pins keeps cabi_realloc allocations alive until Unpin.
var pins [][]byte

//go:wasmexport cabi_realloc
func cabiRealloc(old, oldSize, align, newSize uint32) uint32 {
	if newSize == 0 {
		return align
	}
	b := make([]byte, newSize+align)
	base := unsafe.Pointer(&b[0])
	p := unsafe.Add(base, (align-uint32(uintptr(base))%align)%align)
	if old != 0 && oldSize != 0 {
		copy(unsafe.Slice((*byte)(p), newSize), unsafe.Slice((*byte)(ptr(old)), oldSize))
	}
	pins = append(pins, b)
	return uint32(uintptr(p))
}

// Unpin releases cabi_realloc allocations.
func Unpin() { pins = pins[:0] }

// ptr turns a linear-memory address into a Go pointer; the memory there is
// kept reachable by its owner (a block alloc keeps, or the host's).
func ptr(p uint32) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), uintptr(p)) }

func bytesAt(p, n uint32) []byte {
	if n == 0 {
		return nil
	}
	out := make([]byte, n)
	copy(out, unsafe.Slice((*byte)(ptr(p)), n))
	return out
}

// Error codes of wasi:sockets/network used by the guests.
const (
	AccessDenied = 1
	WouldBlock   = 8
)

// ---- wasi:sockets

//go:wasmimport wasi:sockets/instance-network@0.2.8 instance-network
func instanceNetwork() uint32

//go:wasmimport wasi:sockets/tcp-create-socket@0.2.8 create-tcp-socket
func createTCPSocket(family uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.start-connect
func startConnect(self, network, disc, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.finish-connect
func finishConnect(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.start-bind
func startBind(self, network, disc, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.finish-bind
func finishBind(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.start-listen
func startListen(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.finish-listen
func finishListen(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-listen-backlog-size
func setListenBacklogSize(self uint32, value uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.accept
func accept(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.local-address
func localAddress(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.subscribe
func tcpSubscribe(self uint32) uint32

//go:wasmimport wasi:sockets/tcp@0.2.8 [resource-drop]tcp-socket
func dropTCPSocket(self uint32)

//go:wasmimport wasi:sockets/tcp@0.2.8 [method]tcp-socket.set-send-buffer-size
func setSendBufferSize(self uint32, v uint64, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.8 resolve-addresses
func resolveAddresses(network uint32, name unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.8 [method]resolve-address-stream.resolve-next-address
func resolveNextAddress(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.8 [method]resolve-address-stream.subscribe
func resolveSubscribe(self uint32) uint32

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.8 [resource-drop]resolve-address-stream
func dropResolveStream(self uint32)

// Network returns the instance network.
func Network() uint32 { return instanceNetwork() }

// Addr is an IPv4 socket address.
type Addr struct {
	IP   [4]byte
	Port uint16
}

// CreateTCP4 creates an IPv4 TCP socket.
func CreateTCP4() (uint32, uint32) {
	createTCPSocket(0, retp())
	if u8(0) != 0 {
		return 0, uint32(u8(4))
	}
	return u32(4), 0
}

// CreateTCP6 creates an IPv6 TCP socket.
func CreateTCP6() (uint32, uint32) {
	createTCPSocket(1, retp())
	if u8(0) != 0 {
		return 0, uint32(u8(4))
	}
	return u32(4), 0
}

func unit() uint32 {
	if u8(0) != 0 {
		return uint32(u8(1))
	}
	return 0
}

// StartConnect is start-connect to an IPv4 address; it returns an error
// code, or 0.
func StartConnect(sock, net uint32, a Addr) uint32 {
	startConnect(sock, net, 0, uint32(a.Port), uint32(a.IP[0]), uint32(a.IP[1]), uint32(a.IP[2]), uint32(a.IP[3]), 0, 0, 0, 0, 0, 0, retp())
	return unit()
}

// StartConnect6 is start-connect to an IPv6 address (flow info and scope
// id zero); it returns an error code, or 0.
func StartConnect6(sock, net uint32, ip [16]byte, port uint16) uint32 {
	var a [8]uint32
	for i := range a {
		a[i] = uint32(ip[2*i])<<8 | uint32(ip[2*i+1])
	}
	startConnect(sock, net, 1, uint32(port), 0, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], 0, retp())
	return unit()
}

// FinishConnect returns the streams or an error code.
func FinishConnect(sock uint32) (in, out, code uint32) {
	finishConnect(sock, retp())
	if u8(0) != 0 {
		return 0, 0, uint32(u8(4))
	}
	return u32(4), u32(8), 0
}

// StartBind is start-bind on an IPv4 address.
func StartBind(sock, net uint32, a Addr) uint32 {
	startBind(sock, net, 0, uint32(a.Port), uint32(a.IP[0]), uint32(a.IP[1]), uint32(a.IP[2]), uint32(a.IP[3]), 0, 0, 0, 0, 0, 0, retp())
	return unit()
}

func FinishBind(sock uint32) uint32   { finishBind(sock, retp()); return unit() }
func StartListen(sock uint32) uint32  { startListen(sock, retp()); return unit() }
func FinishListen(sock uint32) uint32 { finishListen(sock, retp()); return unit() }

// SetBacklog is set-listen-backlog-size.
func SetBacklog(sock uint32, n uint64) uint32 { setListenBacklogSize(sock, n, retp()); return unit() }

// Accept returns a connected socket and its streams, or an error code.
func Accept(sock uint32) (s, in, out, code uint32) {
	accept(sock, retp())
	if u8(0) != 0 {
		return 0, 0, 0, uint32(u8(4))
	}
	return u32(4), u32(8), u32(12), 0
}

// LocalPort returns the socket's local port.
func LocalPort(sock uint32) (uint16, uint32) {
	localAddress(sock, retp())
	if u8(0) != 0 {
		return 0, uint32(u8(4))
	}
	return uint16(u32(8)), 0
}

// SetSendBuffer is set-send-buffer-size.
func SetSendBuffer(sock uint32, n uint64) uint32 { setSendBufferSize(sock, n, retp()); return unit() }

func TCPSubscribe(sock uint32) uint32 { return tcpSubscribe(sock) }
func DropTCP(sock uint32)             { dropTCPSocket(sock) }

// namebuf holds names passed to resolve-addresses.
var namebuf [256]byte

// Resolve starts a lookup; it returns the stream or an error code.
func Resolve(net uint32, name string) (uint32, uint32) {
	n := copy(namebuf[:], name)
	resolveAddresses(net, unsafe.Pointer(&namebuf[0]), uint32(n), retp())
	if u8(0) != 0 {
		return 0, uint32(u8(4))
	}
	return u32(4), 0
}

// ResolveWait waits for the lookup of stream to end, reading nothing.
func ResolveWait(stream uint32) {
	p := resolveSubscribe(stream)
	block(p)
	dropPollable(p)
}

// ResolveAll waits for the lookup of stream and returns how many
// addresses it found, or its error code; it drops the stream.
func ResolveAll(stream uint32) (int, uint32) {
	defer dropResolveStream(stream)
	p := resolveSubscribe(stream)
	block(p)
	dropPollable(p)
	for n := 0; ; n++ {
		resolveNextAddress(stream, retp())
		switch {
		case u8(0) != 0:
			return n, uint32(u8(2))
		case u8(2) == 0:
			return n, 0
		}
	}
}

// ---- wasi:io

//go:wasmimport wasi:io/poll@0.2.8 poll
func poll(list unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/poll@0.2.8 [method]pollable.block
func block(self uint32)

//go:wasmimport wasi:io/poll@0.2.8 [resource-drop]pollable
func dropPollable(self uint32)

// pollList is the argument of Poll, static.
var pollList []uint32

// Poll waits on pollables and returns the ready indices.
func Poll(ps []uint32) []uint32 {
	pollList = append(pollList[:0], ps...)
	poll(unsafe.Pointer(&pollList[0]), uint32(len(pollList)), retp())
	p, n := u32(0), u32(4)
	out := make([]uint32, n)
	b := bytesAt(p, 4*n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	Unpin()
	return out
}

func Block(p uint32)        { block(p) }
func DropPollable(p uint32) { dropPollable(p) }

//go:wasmimport wasi:io/streams@0.2.8 [method]input-stream.read
func read(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]input-stream.blocking-read
func blockingRead(self uint32, n uint64, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]input-stream.subscribe
func inSubscribe(self uint32) uint32

//go:wasmimport wasi:io/streams@0.2.8 [resource-drop]input-stream
func dropInput(self uint32)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.check-write
func checkWrite(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.write
func write(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.blocking-write-and-flush
func blockingWriteAndFlush(self uint32, p unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.blocking-flush
func blockingFlush(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.subscribe
func outSubscribe(self uint32) uint32

//go:wasmimport wasi:io/streams@0.2.8 [resource-drop]output-stream
func dropOutput(self uint32)

//go:wasmimport wasi:io/error@0.2.8 [method]error.to-debug-string
func toDebugString(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/error@0.2.8 [resource-drop]error
func dropError(self uint32)

// StreamErr is a stream-error: Closed, or Failed with a debug string.
type StreamErr struct {
	Closed bool
	Msg    string
}

func (e *StreamErr) Error() string {
	if e.Closed {
		return "closed"
	}
	return "failed: " + e.Msg
}

// streamErr decodes a stream-error at off.
func streamErr(off int) *StreamErr {
	if u8(off) == 1 {
		return &StreamErr{Closed: true}
	}
	h := u32(off + 4)
	toDebugString(h, retp())
	msg := string(bytesAt(u32(0), u32(4)))
	Unpin()
	dropError(h)
	return &StreamErr{Msg: msg}
}

func readResult() ([]byte, error) {
	if u8(0) != 0 {
		return nil, streamErr(4)
	}
	b := bytesAt(u32(4), u32(8))
	Unpin()
	return b, nil
}

// Read is input-stream.read.
func Read(in uint32, n uint64) ([]byte, error) { read(in, n, retp()); return readResult() }

// BlockingRead is input-stream.blocking-read.
func BlockingRead(in uint32, n uint64) ([]byte, error) {
	blockingRead(in, n, retp())
	return readResult()
}

func InSubscribe(in uint32) uint32 { return inSubscribe(in) }
func OutSubscribe(o uint32) uint32 { return outSubscribe(o) }
func DropInput(in uint32)          { dropInput(in) }
func DropOutput(out uint32)        { dropOutput(out) }

func unitStream() error {
	if u8(0) != 0 {
		return streamErr(4)
	}
	return nil
}

// CheckWrite is output-stream.check-write.
func CheckWrite(out uint32) (uint64, error) {
	checkWrite(out, retp())
	if u8(0) != 0 {
		return 0, streamErr(8)
	}
	return u64(8), nil
}

// wbuf holds bytes passed to writes, static.
var wbuf [64 << 10]byte

// Write is output-stream.write.
func Write(out uint32, p []byte) error {
	n := copy(wbuf[:], p)
	write(out, unsafe.Pointer(&wbuf[0]), uint32(n), retp())
	return unitStream()
}

// BlockingWriteAndFlush is output-stream.blocking-write-and-flush.
func BlockingWriteAndFlush(out uint32, p []byte) error {
	n := copy(wbuf[:], p)
	blockingWriteAndFlush(out, unsafe.Pointer(&wbuf[0]), uint32(n), retp())
	return unitStream()
}

// BlockingFlush is output-stream.blocking-flush.
func BlockingFlush(out uint32) error { blockingFlush(out, retp()); return unitStream() }
