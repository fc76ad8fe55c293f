//go:build wasip1

package sockets

import (
	ipnamelookup "github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/ip-name-lookup"
	"github.com/wasitls/wasitls/guest/wasi/io"
)

// ResolveAddressStream is the resource
// wasi:sockets/ip-name-lookup.resolve-address-stream.
type ResolveAddressStream uint32

// ResolveAddresses starts resolving name (a host name or an IP literal).
//
//	resolve-addresses: func(network: borrow<network>, name: string) -> result<resolve-address-stream, error-code>;
func ResolveAddresses(n Network, name string) (ResolveAddressStream, error) {
	s, err := ipnamelookup.ResolveAddresses(n.Borrow(), name)
	return ResolveAddressStream(s), errorCode(err)
}

// ResolveNextAddress returns the next address; ok is false when the stream is
// exhausted. It reports ErrorWouldBlock until the pollable is ready.
//
//	resolve-next-address: func() -> result<option<ip-address>, error-code>;
func (s ResolveAddressStream) ResolveNextAddress() (addr IPAddress, ok bool, err error) {
	o, err := ipnamelookup.ResolveAddressStreamBorrow(s).ResolveNextAddress()
	if err != nil {
		return IPAddress{}, false, errorCode(err)
	}
	a, ok := o.Get()
	if !ok {
		return IPAddress{}, false, nil
	}
	return addressFromWIT(a), true, nil
}

// Subscribe returns a pollable, a child of s, ready when the next address
// (or the end, or an error) is available.
//
//	subscribe: func() -> pollable;
func (s ResolveAddressStream) Subscribe() io.Pollable {
	return ipnamelookup.ResolveAddressStreamBorrow(s).Subscribe()
}

// Drop drops the handle.
func (s ResolveAddressStream) Drop() { ipnamelookup.ResolveAddressStream(s).Drop() }
