package wasifs

import (
	"errors"
	"io/fs"
	"slices"
	"testing"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/filesystem/types"
)

// TestErrorCodesMatchWIT checks that the ErrorCode cases are the generated
// bindings' cases, in WIT order, and that none is missing.
func TestErrorCodesMatchWIT(t *testing.T) {
	for i := range errorCodeNames {
		if got, want := ErrorCode(i).String(), types.ErrorCode(i).String(); got != want {
			t.Errorf("error code %d is %s here, %s in the WIT", i, got, want)
		}
	}
	if got := types.ErrorCode(len(errorCodeNames)).String(); got != "ErrorCode(37)" {
		t.Errorf("the WIT has more error codes than ErrorCode: %s", got)
	}
	for c, want := range map[ErrorCode]types.ErrorCode{
		ErrorAccess: types.ErrorCodeAccess, ErrorBadDescriptor: types.ErrorCodeBadDescriptor,
		ErrorExist: types.ErrorCodeExist, ErrorIsDirectory: types.ErrorCodeIsDirectory,
		ErrorNoEntry: types.ErrorCodeNoEntry, ErrorNotDirectory: types.ErrorCodeNotDirectory,
		ErrorNotEmpty: types.ErrorCodeNotEmpty, ErrorNotPermitted: types.ErrorCodeNotPermitted,
		ErrorReadOnly: types.ErrorCodeReadOnly, ErrorUnsupported: types.ErrorCodeUnsupported,
	} {
		if uint8(c) != uint8(want) {
			t.Errorf("%s is %d, %d in the WIT", c, c, want)
		}
	}
}

// TestErrorCodeIs: errors.Is matches the cases against the io/fs
// sentinels and errors.ErrUnsupported as it matches syscall.Errno's
// (ENOENT, EEXIST and ENOTEMPTY, EACCES and EPERM, ENOTSUP), and read-only
// as a permission error; nothing else matches.
func TestErrorCodeIs(t *testing.T) {
	want := map[error][]ErrorCode{
		fs.ErrNotExist:        {ErrorNoEntry},
		fs.ErrExist:           {ErrorExist, ErrorNotEmpty},
		fs.ErrPermission:      {ErrorAccess, ErrorNotPermitted, ErrorReadOnly},
		errors.ErrUnsupported: {ErrorUnsupported},
		fs.ErrClosed:          nil,
		fs.ErrInvalid:         nil,
	}
	for target, codes := range want {
		for i := range errorCodeNames {
			c := ErrorCode(i)
			if got, want := errors.Is(c, target), slices.Contains(codes, c); got != want {
				t.Errorf("errors.Is(%s, %v) = %v, want %v", c, target, got, want)
			}
		}
	}
}
