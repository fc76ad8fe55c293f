package sockets

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
)

// ErrorCode is wasi:sockets/network's error-code; the values are the WIT
// enum's case indices.
type ErrorCode uint8

// Error codes, in WIT order.
const (
	Unknown ErrorCode = iota
	AccessDenied
	NotSupported
	InvalidArgument
	OutOfMemory
	Timeout
	ConcurrencyConflict
	NotInProgress
	WouldBlock
	InvalidState
	NewSocketLimit
	AddressNotBindable
	AddressInUse
	RemoteUnreachable
	ConnectionRefused
	ConnectionReset
	ConnectionAborted
	DatagramTooLarge
	NameUnresolvable
	TemporaryResolverFailure
	PermanentResolverFailure
)

var codeNames = [...]string{
	"unknown", "access-denied", "not-supported", "invalid-argument",
	"out-of-memory", "timeout", "concurrency-conflict", "not-in-progress",
	"would-block", "invalid-state", "new-socket-limit",
	"address-not-bindable", "address-in-use", "remote-unreachable",
	"connection-refused", "connection-reset", "connection-aborted",
	"datagram-too-large", "name-unresolvable",
	"temporary-resolver-failure", "permanent-resolver-failure",
}

func (c ErrorCode) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "error-code(?)"
}

// Error implements error, so that an ErrorCode can be returned as one.
func (c ErrorCode) Error() string { return "sockets: " + c.String() }

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
