//go:build !netbsd

package filesystem

import (
	"syscall"

	"github.com/wasitls/wasitls/bindings/wasi/filesystem/types"
)

// NetBSD's syscall package has no ENOTRECOVERABLE.
func init() { errnoCodes[syscall.ENOTRECOVERABLE] = types.ErrorCodeNotRecoverable }
