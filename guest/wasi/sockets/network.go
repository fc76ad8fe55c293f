package sockets

import (
	"net/netip"
	"strconv"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/network"
)

// ErrorCode is the enum wasi:sockets/network.error-code. It implements error.
type ErrorCode uint8

// The error-code cases, in WIT order.
const (
	ErrorUnknown ErrorCode = iota
	ErrorAccessDenied
	ErrorNotSupported
	ErrorInvalidArgument
	ErrorOutOfMemory
	ErrorTimeout
	ErrorConcurrencyConflict
	ErrorNotInProgress
	ErrorWouldBlock
	ErrorInvalidState
	ErrorNewSocketLimit
	ErrorAddressNotBindable
	ErrorAddressInUse
	ErrorRemoteUnreachable
	ErrorConnectionRefused
	ErrorConnectionReset
	ErrorConnectionAborted
	ErrorDatagramTooLarge
	ErrorNameUnresolvable
	ErrorTemporaryResolverFailure
	ErrorPermanentResolverFailure
)

var errorCodeNames = [...]string{
	"unknown", "access-denied", "not-supported", "invalid-argument",
	"out-of-memory", "timeout", "concurrency-conflict", "not-in-progress",
	"would-block", "invalid-state", "new-socket-limit",
	"address-not-bindable", "address-in-use", "remote-unreachable",
	"connection-refused", "connection-reset", "connection-aborted",
	"datagram-too-large", "name-unresolvable", "temporary-resolver-failure",
	"permanent-resolver-failure",
}

// String returns the WIT name of the case.
func (e ErrorCode) String() string {
	if int(e) < len(errorCodeNames) {
		return errorCodeNames[e]
	}
	return "error-code(" + strconv.Itoa(int(e)) + ")"
}

// Error implements error.
func (e ErrorCode) Error() string { return "wasi:sockets: " + e.String() }

// Timeout reports whether the code is timeout (for net.Error).
func (e ErrorCode) Timeout() bool { return e == ErrorTimeout }

// Temporary reports whether retrying, perhaps after a pause, may succeed:
// would-block, timeout, temporary-resolver-failure, new-socket-limit (the
// guest holds as many sockets as the host allows, as EMFILE/ENFILE) and
// connection-aborted (a connection given up before it was accepted, as
// ECONNABORTED).
func (e ErrorCode) Temporary() bool {
	switch e {
	case ErrorWouldBlock, ErrorTemporaryResolverFailure, ErrorTimeout, ErrorNewSocketLimit, ErrorConnectionAborted:
		return true
	}
	return false
}

// IPAddressFamily is the enum wasi:sockets/network.ip-address-family.
type IPAddressFamily uint8

// The ip-address-family cases.
const (
	IPv4 IPAddressFamily = iota
	IPv6
)

// String returns the WIT name of the case.
func (f IPAddressFamily) String() string {
	if f == IPv4 {
		return "ipv4"
	}
	return "ipv6"
}

// IPAddress is the variant ip-address: IPv4 when Family is IPv4, else IPv6.
type IPAddress struct {
	Family IPAddressFamily
	IPv4   [4]uint8
	IPv6   [8]uint16
}

// Addr returns a as a netip.Addr.
func (a IPAddress) Addr() netip.Addr {
	if a.Family == IPv4 {
		return netip.AddrFrom4(a.IPv4)
	}
	var b [16]byte
	for i, w := range a.IPv6 {
		b[2*i], b[2*i+1] = byte(w>>8), byte(w)
	}
	return netip.AddrFrom16(b)
}

// IPSocketAddress is the variant ip-socket-address, flattened: IPv4 is used
// when Family is IPv4; IPv6, FlowInfo and ScopeID when it is IPv6.
type IPSocketAddress struct {
	Family   IPAddressFamily
	Port     uint16
	IPv4     [4]uint8
	IPv6     [8]uint16
	FlowInfo uint32
	ScopeID  uint32
}

// AddrPort returns a as a netip.AddrPort (the scope id is not carried).
func (a IPSocketAddress) AddrPort() netip.AddrPort {
	ip := IPAddress{Family: a.Family, IPv4: a.IPv4, IPv6: a.IPv6}
	return netip.AddrPortFrom(ip.Addr(), a.Port)
}

// SocketAddressFrom converts ap: an IPv4 (or IPv4-mapped, when family is
// IPv4) address gives the ipv4 case, anything else the ipv6 case.
func SocketAddressFrom(ap netip.AddrPort, family IPAddressFamily) IPSocketAddress {
	addr := ap.Addr()
	if family == IPv4 {
		addr = addr.Unmap()
	}
	s := IPSocketAddress{Port: ap.Port()}
	if family == IPv4 && addr.Is4() {
		s.Family = IPv4
		s.IPv4 = addr.As4()
		return s
	}
	s.Family = IPv6
	b := addr.As16()
	for i := range s.IPv6 {
		s.IPv6[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return s
}

// toWIT converts a to the generated bindings' variant.
func (a IPSocketAddress) toWIT() network.IPSocketAddress {
	if a.Family == IPv4 {
		b := a.IPv4
		return network.IPSocketAddressIPv4(network.IPv4SocketAddress{
			Port:    a.Port,
			Address: network.IPv4Address{F0: b[0], F1: b[1], F2: b[2], F3: b[3]},
		})
	}
	w := a.IPv6
	return network.IPSocketAddressIPv6(network.IPv6SocketAddress{
		Port:     a.Port,
		FlowInfo: a.FlowInfo,
		Address:  network.IPv6Address{F0: w[0], F1: w[1], F2: w[2], F3: w[3], F4: w[4], F5: w[5], F6: w[6], F7: w[7]},
		ScopeID:  a.ScopeID,
	})
}

// socketAddressFromWIT converts the generated bindings' variant.
func socketAddressFromWIT(v network.IPSocketAddress) IPSocketAddress {
	if v.Tag == network.IPSocketAddressTagIPv4 {
		b := v.IPv4.Address
		return IPSocketAddress{Family: IPv4, Port: v.IPv4.Port, IPv4: [4]uint8{b.F0, b.F1, b.F2, b.F3}}
	}
	w := v.IPv6.Address
	return IPSocketAddress{
		Family: IPv6, Port: v.IPv6.Port, FlowInfo: v.IPv6.FlowInfo, ScopeID: v.IPv6.ScopeID,
		IPv6: [8]uint16{w.F0, w.F1, w.F2, w.F3, w.F4, w.F5, w.F6, w.F7},
	}
}

// addressFromWIT converts the generated bindings' ip-address.
func addressFromWIT(v network.IPAddress) IPAddress {
	if v.Tag == network.IPAddressTagIPv4 {
		b := v.IPv4
		return IPAddress{Family: IPv4, IPv4: [4]uint8{b.F0, b.F1, b.F2, b.F3}}
	}
	w := v.IPv6
	return IPAddress{Family: IPv6, IPv6: [8]uint16{w.F0, w.F1, w.F2, w.F3, w.F4, w.F5, w.F6, w.F7}}
}

// errorCode turns the generated bindings' error-code into an ErrorCode.
func errorCode(err error) error {
	if c, ok := err.(network.ErrorCode); ok {
		return ErrorCode(c)
	}
	return err
}
