package wasifs

import (
	"errors"
	"io/fs"
	"strconv"
)

// ErrorCode is the enum wasi:filesystem/types.error-code. It implements
// error, and errors.Is matches it against the io/fs sentinels.
type ErrorCode uint8

// The error-code cases this package names, in WIT order.
const (
	ErrorAccess        ErrorCode = 0
	ErrorBadDescriptor ErrorCode = 3
	ErrorExist         ErrorCode = 7
	ErrorIsDirectory   ErrorCode = 14
	ErrorNoEntry       ErrorCode = 20
	ErrorNotDirectory  ErrorCode = 24
	ErrorNotEmpty      ErrorCode = 25
	ErrorNotPermitted  ErrorCode = 31
	ErrorUnsupported   ErrorCode = 27
	ErrorReadOnly      ErrorCode = 33
)

var errorCodeNames = [...]string{
	"access", "would-block", "already", "bad-descriptor", "busy", "deadlock",
	"quota", "exist", "file-too-large", "illegal-byte-sequence",
	"in-progress", "interrupted", "invalid", "io", "is-directory", "loop",
	"too-many-links", "message-size", "name-too-long", "no-device",
	"no-entry", "no-lock", "insufficient-memory", "insufficient-space",
	"not-directory", "not-empty", "not-recoverable", "unsupported",
	"no-tty", "no-such-device", "overflow", "not-permitted", "pipe",
	"read-only", "invalid-seek", "text-file-busy", "cross-device",
}

// String returns the WIT name of the case.
func (e ErrorCode) String() string {
	if int(e) < len(errorCodeNames) {
		return errorCodeNames[e]
	}
	return "error-code(" + strconv.Itoa(int(e)) + ")"
}

// Error implements error.
func (e ErrorCode) Error() string { return "wasi:filesystem: " + e.String() }

// Is reports whether e means target: no-entry is fs.ErrNotExist, exist
// and not-empty are fs.ErrExist, access, not-permitted and read-only are
// fs.ErrPermission, unsupported is errors.ErrUnsupported (as the errnos
// of syscall.Errno are).
func (e ErrorCode) Is(target error) bool {
	switch target {
	case errors.ErrUnsupported:
		return e == ErrorUnsupported
	case fs.ErrNotExist:
		return e == ErrorNoEntry
	case fs.ErrExist:
		return e == ErrorExist || e == ErrorNotEmpty
	case fs.ErrPermission:
		return e == ErrorAccess || e == ErrorNotPermitted || e == ErrorReadOnly
	}
	return false
}
