package wasiio

import (
	"context"
	"errors"
	"io"

	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/internal/errtext"
)

// Error is the wasi:io/error resource: an opaque account of a failed
// operation. Its debug string is the Go error's message, at most
// errtext.Max bytes of it: a backend's or the system's message may quote
// what a peer or the guest sent, and the guest may keep the resource (and
// a stream its last error) for as long as it likes. Other interfaces (such
// as wasi:sockets/network's network-error-code) inspect Err to classify
// it, which errtext.Bound keeps possible.
type Error struct {
	Err error
}

// NewError returns an error resource for err, its message bounded
// (errtext.Bound).
func NewError(err error) *Error { return &Error{Err: errtext.Bound(err)} }

// ToDebugString implements ioerror.Error.
func (e *Error) ToDebugString(ctx context.Context) string {
	if e == nil || e.Err == nil {
		return "unknown error"
	}
	return e.Err.Error()
}

// Drop implements cabi.Resource.
func (e *Error) Drop() {}

// Closed is the stream-error closed case: the input reached its end, or
// the output was closed. No more operations will succeed.
func Closed() streams.StreamError { return streams.StreamErrorClosed() }

// Failed is the stream-error last-operation-failed case, with a fresh error
// resource for err (each report hands the guest its own resource).
func Failed(err error) streams.StreamError {
	return streams.StreamErrorLastOperationFailed(NewError(err))
}

// IsClosed reports whether err is the closed case of a stream-error.
func IsClosed(err error) bool {
	var se streams.StreamError
	return errors.As(err, &se) && se.Tag == streams.StreamErrorTagClosed
}

// Cause returns the Go error behind a last-operation-failed stream-error,
// io.EOF for closed, and err itself otherwise.
func Cause(err error) error {
	var se streams.StreamError
	if !errors.As(err, &se) {
		return err
	}
	if se.Tag == streams.StreamErrorTagClosed {
		return io.EOF
	}
	if e, ok := se.LastOperationFailed.(*Error); ok && e.Err != nil {
		return e.Err
	}
	return errors.New(se.LastOperationFailed.ToDebugString(context.Background()))
}

// errClosed marks a stream closed on purpose (dropped, or closed by its
// owner) in the terminal-error fields.
var errClosed = errors.New("wasiio: stream closed")

// report turns a terminal Go error into the stream-error the guest sees:
// the end of input and deliberate closes are closed, anything else
// last-operation-failed. isFailure says which.
func report(err error) (se streams.StreamError, isFailure bool) {
	if err == errClosed || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
		return Closed(), false
	}
	return Failed(err), true
}
