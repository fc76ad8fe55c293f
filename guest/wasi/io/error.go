//go:build wasip1

package io

import ioerror "github.com/wasitls/wasitls/guest/wasi/bindings/wasi/io/error"

// Error is the resource wasi:io/error.error: an opaque error from an I/O
// operation. Interfaces such as wasi:sockets offer functions that classify
// it. ToDebugString returns a human-readable description of the error, for
// debugging only; Drop drops the handle.
type Error = ioerror.Error
