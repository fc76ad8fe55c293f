//go:build wasip1

package sockets

import (
	"runtime"
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// ResolveAddressStream is the resource
// wasi:sockets/ip-name-lookup.resolve-address-stream.
type ResolveAddressStream uint32

// ResolveAddresses starts resolving name (a host name or an IP literal).
//
//	resolve-addresses: func(network: borrow<network>, name: string) -> result<resolve-address-stream, error-code>;
func ResolveAddresses(n Network, name string) (ResolveAddressStream, error) {
	resolveAddresses(uint32(n), cabi.StringAddr(name), uint32(len(name)), cabi.Ret())
	runtime.KeepAlive(name)
	h, err := liftU32()
	return ResolveAddressStream(h), err
}

// ResolveNextAddress returns the next address; ok is false when the stream is
// exhausted. It reports ErrorWouldBlock until the pollable is ready.
//
//	resolve-next-address: func() -> result<option<ip-address>, error-code>;
func (s ResolveAddressStream) ResolveNextAddress() (addr IPAddress, ok bool, err error) {
	resolveNextAddress(uint32(s), cabi.Ret())
	r := *(*resultOptionIPAddressMem)(cabi.Ret())
	if r.IsErr != 0 {
		return IPAddress{}, false, ErrorCode(r.Payload.IsSome)
	}
	if r.Payload.IsSome == 0 {
		return IPAddress{}, false, nil
	}
	return liftIPAddress(&r.Payload.Payload), true, nil
}

// Subscribe returns a pollable, a child of s, ready when the next address
// (or the end, or an error) is available.
//
//	subscribe: func() -> pollable;
func (s ResolveAddressStream) Subscribe() io.Pollable {
	return io.Pollable(resolveSubscribe(uint32(s)))
}

// Drop drops the handle.
func (s ResolveAddressStream) Drop() { resolveDrop(uint32(s)) }

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.8 resolve-addresses
func resolveAddresses(network uint32, name unsafe.Pointer, n uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.8 [method]resolve-address-stream.resolve-next-address
func resolveNextAddress(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.8 [method]resolve-address-stream.subscribe
func resolveSubscribe(self uint32) uint32

//go:wasmimport wasi:sockets/ip-name-lookup@0.2.8 [resource-drop]resolve-address-stream
func resolveDrop(self uint32)
