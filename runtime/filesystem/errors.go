package filesystem

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// ErrorCode is wasi:filesystem/types' error-code. It implements error.
type ErrorCode = types.ErrorCode

// The error codes this package returns itself.
const (
	Access             = types.ErrorCodeAccess
	BadDescriptor      = types.ErrorCodeBadDescriptor
	Exist              = types.ErrorCodeExist
	Invalid            = types.ErrorCodeInvalid
	IO                 = types.ErrorCodeIO
	IsDirectory        = types.ErrorCodeIsDirectory
	Loop               = types.ErrorCodeLoop
	NameTooLong        = types.ErrorCodeNameTooLong
	NoEntry            = types.ErrorCodeNoEntry
	InsufficientMemory = types.ErrorCodeInsufficientMemory
	NotDirectory       = types.ErrorCodeNotDirectory
	NotEmpty           = types.ErrorCodeNotEmpty
	Unsupported        = types.ErrorCodeUnsupported
	NotPermitted       = types.ErrorCodeNotPermitted
	ReadOnly           = types.ErrorCodeReadOnly
	CrossDevice        = types.ErrorCodeCrossDevice
	Overflow           = types.ErrorCodeOverflow
)

// errnoCodes maps host errno values to error codes.
var errnoCodes = map[syscall.Errno]ErrorCode{
	syscall.EACCES:       types.ErrorCodeAccess,
	syscall.EAGAIN:       types.ErrorCodeWouldBlock,
	syscall.EALREADY:     types.ErrorCodeAlready,
	syscall.EBADF:        types.ErrorCodeBadDescriptor,
	syscall.EBUSY:        types.ErrorCodeBusy,
	syscall.EDEADLK:      types.ErrorCodeDeadlock,
	syscall.EDQUOT:       types.ErrorCodeQuota,
	syscall.EEXIST:       types.ErrorCodeExist,
	syscall.EFBIG:        types.ErrorCodeFileTooLarge,
	syscall.EILSEQ:       types.ErrorCodeIllegalByteSequence,
	syscall.EINPROGRESS:  types.ErrorCodeInProgress,
	syscall.EINTR:        types.ErrorCodeInterrupted,
	syscall.EINVAL:       types.ErrorCodeInvalid,
	syscall.EIO:          types.ErrorCodeIO,
	syscall.EISDIR:       types.ErrorCodeIsDirectory,
	syscall.ELOOP:        types.ErrorCodeLoop,
	syscall.EMLINK:       types.ErrorCodeTooManyLinks,
	syscall.EMSGSIZE:     types.ErrorCodeMessageSize,
	syscall.ENAMETOOLONG: types.ErrorCodeNameTooLong,
	syscall.ENODEV:       types.ErrorCodeNoDevice,
	syscall.ENOENT:       types.ErrorCodeNoEntry,
	syscall.ENOLCK:       types.ErrorCodeNoLock,
	syscall.ENOMEM:       types.ErrorCodeInsufficientMemory,
	syscall.ENOSPC:       types.ErrorCodeInsufficientSpace,
	syscall.ENOTDIR:      types.ErrorCodeNotDirectory,
	syscall.ENOTEMPTY:    types.ErrorCodeNotEmpty,
	syscall.ENOSYS:       types.ErrorCodeUnsupported,
	syscall.ENOTSUP:      types.ErrorCodeUnsupported,
	syscall.ENOTTY:       types.ErrorCodeNoTTY,
	syscall.ENXIO:        types.ErrorCodeNoSuchDevice,
	syscall.EOVERFLOW:    types.ErrorCodeOverflow,
	syscall.EPERM:        types.ErrorCodeNotPermitted,
	syscall.EPIPE:        types.ErrorCodePipe,
	syscall.EROFS:        types.ErrorCodeReadOnly,
	syscall.ESPIPE:       types.ErrorCodeInvalidSeek,
	syscall.ETXTBSY:      types.ErrorCodeTextFileBusy,
	syscall.EXDEV:        types.ErrorCodeCrossDevice,
}

// CodeOf classifies a host file system error as an error code. ok is false
// when err carries nothing recognizable (filesystem-error-code then returns
// none).
func CodeOf(err error) (code ErrorCode, ok bool) {
	if err == nil {
		return 0, false
	}
	if errors.As(err, &code) {
		return code, true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if c, ok := errnoCodes[errno]; ok {
			return c, true
		}
		return IO, true
	}
	switch {
	case escapes(err):
		return NotPermitted, true
	case errors.Is(err, fs.ErrNotExist):
		return NoEntry, true
	case errors.Is(err, fs.ErrExist):
		return Exist, true
	case errors.Is(err, fs.ErrPermission):
		return Access, true
	case errors.Is(err, os.ErrClosed):
		return BadDescriptor, true
	}
	return 0, false
}

// code is CodeOf for results: an error it cannot classify is io.
func code(err error) error {
	if err == nil {
		return nil
	}
	if c, ok := CodeOf(err); ok {
		return c
	}
	return IO
}

// escapes reports os.Root's refusal of a path leading out of the root
// (its error value is not exported).
func escapes(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	return strings.Contains(err.Error(), "path escapes from parent")
}
