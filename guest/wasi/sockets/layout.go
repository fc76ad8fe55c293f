package sockets

import "structs"

// The memory layouts of values read from the return area. A host-side test
// compares every size, alignment and offset here with the WIT.

// ipv4SocketAddressMem is record ipv4-socket-address.
type ipv4SocketAddressMem struct {
	_       structs.HostLayout
	Port    uint16
	Address [4]uint8
}

// ipv6SocketAddressMem is record ipv6-socket-address.
type ipv6SocketAddressMem struct {
	_        structs.HostLayout
	Port     uint16
	_        [2]uint8
	FlowInfo uint32
	Address  [8]uint16
	ScopeID  uint32
}

// ipSocketAddressMem is variant ip-socket-address; the payload is an
// ipv4SocketAddressMem or an ipv6SocketAddressMem.
type ipSocketAddressMem struct {
	_       structs.HostLayout
	Tag     uint8
	_       [3]uint8
	Payload [7]uint32
}

// ipAddressMem is variant ip-address; the payload is tuple<u8 x4> or
// tuple<u16 x8>.
type ipAddressMem struct {
	_       structs.HostLayout
	Tag     uint8
	_       uint8
	Payload [8]uint16
}

// optionIPAddressMem is option<ip-address>.
type optionIPAddressMem struct {
	_       structs.HostLayout
	IsSome  uint8
	_       uint8
	Payload ipAddressMem
}

// resultOptionIPAddressMem is result<option<ip-address>, error-code>.
type resultOptionIPAddressMem struct {
	_       structs.HostLayout
	IsErr   uint8
	_       uint8
	Payload optionIPAddressMem
}

// resultIPSocketAddressMem is result<ip-socket-address, error-code>.
type resultIPSocketAddressMem struct {
	_       structs.HostLayout
	IsErr   uint8
	_       [3]uint8
	Payload ipSocketAddressMem
}

// resultUnitMem is result<_, error-code>, result<bool, error-code> and
// result<u8, error-code>: the payload is the value or the error code.
type resultUnitMem struct {
	_       structs.HostLayout
	IsErr   uint8
	Payload uint8
}

// resultU32Mem is result<u32, error-code> and result<own<R>, error-code>;
// the error code is the payload's first byte.
type resultU32Mem struct {
	_       structs.HostLayout
	IsErr   uint8
	_       [3]uint8
	Payload uint32
}

// resultU64Mem is result<u64, error-code>.
type resultU64Mem struct {
	_       structs.HostLayout
	IsErr   uint8
	_       [7]uint8
	Payload uint64
}

// resultTuple2Mem is result<tuple<input-stream, output-stream>, error-code>.
type resultTuple2Mem struct {
	_       structs.HostLayout
	IsErr   uint8
	_       [3]uint8
	Payload [2]uint32
}

// resultTuple3Mem is result<tuple<tcp-socket, input-stream, output-stream>, error-code>.
type resultTuple3Mem struct {
	_       structs.HostLayout
	IsErr   uint8
	_       [3]uint8
	Payload [3]uint32
}

// optionErrorCodeMem is option<error-code>.
type optionErrorCodeMem struct {
	_      structs.HostLayout
	IsSome uint8
	Value  uint8
}
