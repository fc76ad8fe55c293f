//go:build wasip1

package sockets

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// Network is the resource wasi:sockets/network.network: an opaque capability
// to use a network.
type Network uint32

// Drop drops the handle.
func (n Network) Drop() { networkDrop(uint32(n)) }

// NetworkErrorCode classifies a wasi:io error as a socket error code, when it
// is one.
//
//	network-error-code: func(err: borrow<error>) -> option<error-code>;
func NetworkErrorCode(err io.Error) (ErrorCode, bool) {
	networkErrorCode(uint32(err), cabi.Ret())
	r := *(*optionErrorCodeMem)(cabi.Ret())
	return ErrorCode(r.Value), r.IsSome != 0
}

// InstanceNetwork returns the default network of the instance.
//
//	instance-network: func() -> network;
func InstanceNetwork() Network { return Network(instanceNetwork()) }

func liftIPSocketAddress(m *ipSocketAddressMem) IPSocketAddress {
	p := unsafe.Pointer(&m.Payload)
	if m.Tag == 0 {
		v := (*ipv4SocketAddressMem)(p)
		return IPSocketAddress{Family: IPv4, Port: v.Port, IPv4: v.Address}
	}
	v := (*ipv6SocketAddressMem)(p)
	return IPSocketAddress{Family: IPv6, Port: v.Port, FlowInfo: v.FlowInfo, IPv6: v.Address, ScopeID: v.ScopeID}
}

func liftIPAddress(m *ipAddressMem) IPAddress {
	if m.Tag == 0 {
		return IPAddress{Family: IPv4, IPv4: *(*[4]uint8)(unsafe.Pointer(&m.Payload))}
	}
	return IPAddress{Family: IPv6, IPv6: m.Payload}
}

func liftUnit() error {
	r := *(*resultUnitMem)(cabi.Ret())
	if r.IsErr != 0 {
		return ErrorCode(r.Payload)
	}
	return nil
}

func liftU8() (uint8, error) {
	r := *(*resultUnitMem)(cabi.Ret())
	if r.IsErr != 0 {
		return 0, ErrorCode(r.Payload)
	}
	return r.Payload, nil
}

func liftU32() (uint32, error) {
	r := *(*resultU32Mem)(cabi.Ret())
	if r.IsErr != 0 {
		return 0, ErrorCode(uint8(r.Payload))
	}
	return r.Payload, nil
}

func liftU64() (uint64, error) {
	r := *(*resultU64Mem)(cabi.Ret())
	if r.IsErr != 0 {
		return 0, ErrorCode(uint8(r.Payload))
	}
	return r.Payload, nil
}

//go:wasmimport wasi:sockets/network@0.2.8 [resource-drop]network
func networkDrop(self uint32)

//go:wasmimport wasi:sockets/network@0.2.8 network-error-code
func networkErrorCode(err uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/instance-network@0.2.8 instance-network
func instanceNetwork() uint32
