package wasiio

import (
	"errors"
	"fmt"
)

// Error is the wasi:io/error resource: an opaque account of a failed
// operation. Its debug string is the Go error's message; other interfaces
// (such as wasi:sockets/network's network-error-code) inspect Err to
// classify it.
type Error struct {
	Err error
}

// NewError returns an error resource for err.
func NewError(err error) *Error { return &Error{Err: err} }

// DebugString is what to-debug-string returns.
func (e *Error) DebugString() string {
	if e == nil || e.Err == nil {
		return "unknown error"
	}
	return e.Err.Error()
}

// ErrClosed is the stream-error closed case: the input reached its end, or
// the output was closed on purpose. No more operations will succeed.
var ErrClosed = errors.New("wasiio: stream closed")

// StreamFailure is the stream-error last-operation-failed case. Resource is
// handed to the guest as its error resource.
type StreamFailure struct {
	Resource *Error
}

func (f *StreamFailure) Error() string {
	return fmt.Sprintf("wasiio: stream failed: %s", f.Resource.DebugString())
}

func (f *StreamFailure) Unwrap() error { return f.Resource.Err }

// failure wraps err for a stream operation: io.EOF and friends become
// ErrClosed, anything else a StreamFailure with a fresh error resource (each
// report hands the guest its own resource).
func failure(err error) error {
	if err == nil || err == ErrClosed {
		return err
	}
	return &StreamFailure{Resource: NewError(err)}
}
