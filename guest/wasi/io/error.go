//go:build wasip1

package io

import (
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/cabi"
)

// Error is the resource wasi:io/error.error: an opaque error from an I/O
// operation. Interfaces such as wasi:sockets offer functions that classify it.
type Error uint32

// ToDebugString returns a human-readable description of the error, for
// debugging only: its content is not specified.
//
//	to-debug-string: func() -> string;
func (e Error) ToDebugString() string {
	errorToDebugString(uint32(e), cabi.Ret())
	r := *(*listMem)(cabi.Ret())
	s := string(cabi.Bytes(r.Ptr, r.Len))
	cabi.Unpin()
	return s
}

// Drop drops the handle.
func (e Error) Drop() { errorDrop(uint32(e)) }

//go:wasmimport wasi:io/error@0.2.8 [method]error.to-debug-string
func errorToDebugString(self uint32, ret unsafe.Pointer)

//go:wasmimport wasi:io/error@0.2.8 [resource-drop]error
func errorDrop(self uint32)
