package sockets

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"

	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
)

// ErrorCode is wasi:sockets/network's error-code. It implements error.
type ErrorCode = network.ErrorCode

// Error codes, by their WIT names.
const (
	Unknown                  = network.ErrorCodeUnknown
	AccessDenied             = network.ErrorCodeAccessDenied
	NotSupported             = network.ErrorCodeNotSupported
	InvalidArgument          = network.ErrorCodeInvalidArgument
	OutOfMemory              = network.ErrorCodeOutOfMemory
	Timeout                  = network.ErrorCodeTimeout
	ConcurrencyConflict      = network.ErrorCodeConcurrencyConflict
	NotInProgress            = network.ErrorCodeNotInProgress
	WouldBlock               = network.ErrorCodeWouldBlock
	InvalidState             = network.ErrorCodeInvalidState
	NewSocketLimit           = network.ErrorCodeNewSocketLimit
	AddressNotBindable       = network.ErrorCodeAddressNotBindable
	AddressInUse             = network.ErrorCodeAddressInUse
	RemoteUnreachable        = network.ErrorCodeRemoteUnreachable
	ConnectionRefused        = network.ErrorCodeConnectionRefused
	ConnectionReset          = network.ErrorCodeConnectionReset
	ConnectionAborted        = network.ErrorCodeConnectionAborted
	DatagramTooLarge         = network.ErrorCodeDatagramTooLarge
	NameUnresolvable         = network.ErrorCodeNameUnresolvable
	TemporaryResolverFailure = network.ErrorCodeTemporaryResolverFailure
	PermanentResolverFailure = network.ErrorCodePermanentResolverFailure
)

// CodeOf classifies a Go network error as an error code. ok is false when
// err carries no recognizable network error (network-error-code then
// returns none).
func CodeOf(err error) (code ErrorCode, ok bool) {
	if err == nil {
		return 0, false
	}
	if errors.As(err, &code) {
		return code, true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EACCES, syscall.EPERM:
			return AccessDenied, true
		case syscall.EADDRINUSE:
			return AddressInUse, true
		case syscall.EADDRNOTAVAIL:
			return AddressNotBindable, true
		case syscall.ECONNREFUSED:
			return ConnectionRefused, true
		case syscall.ECONNRESET, syscall.EPIPE:
			return ConnectionReset, true
		case syscall.ECONNABORTED:
			return ConnectionAborted, true
		case syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETDOWN, syscall.EHOSTDOWN:
			return RemoteUnreachable, true
		case syscall.ETIMEDOUT:
			return Timeout, true
		case syscall.EMFILE, syscall.ENFILE:
			return NewSocketLimit, true
		case syscall.ENOMEM, syscall.ENOBUFS:
			return OutOfMemory, true
		case syscall.EINVAL:
			return InvalidArgument, true
		case errMsgSize:
			// A datagram under the runtime's limit (at most 65,535
			// bytes) but over what the socket carries: 65,507 bytes
			// over IPv4, 65,527 over IPv6, less where the system
			// bounds it lower (macOS: 9,216 bytes by default).
			return DatagramTooLarge, true
		}
		return Unknown, true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		switch {
		case dns.IsNotFound:
			return NameUnresolvable, true
		case dns.IsTemporary || dns.IsTimeout:
			return TemporaryResolverFailure, true
		}
		return PermanentResolverFailure, true
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return Timeout, true
	}
	if errors.Is(err, net.ErrClosed) {
		return ConnectionAborted, true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Unknown, true
	}
	return 0, false
}

// code is CodeOf with Unknown as the fallback.
func code(err error) ErrorCode {
	if c, ok := CodeOf(err); ok {
		return c
	}
	return Unknown
}

// errPoolSpent is the accept goroutine's note that the descriptor pool
// had no unit for a listener's next connection (acceptLoop): the guest's
// next accept fails with new-socket-limit and reports the pool's cap.
var errPoolSpent = errors.New("sockets: the process's descriptor pool is spent")
