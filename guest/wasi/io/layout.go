package io

import "structs"

// The memory layouts of results returned through the return area. A host-side
// test compares every size, alignment and offset here with the WIT.

// streamErrorMem is variant stream-error { last-operation-failed(error), closed }.
type streamErrorMem struct {
	_      structs.HostLayout
	Tag    uint8
	_      [3]uint8
	Handle uint32
}

// resultListStreamError is result<list<u8>, stream-error>: the ok payload is
// (ptr, len), the error payload a streamErrorMem.
type resultListStreamError struct {
	_       structs.HostLayout
	IsErr   uint8
	_       [3]uint8
	Payload [2]uint32
}

// resultU64StreamError is result<u64, stream-error>.
type resultU64StreamError struct {
	_       structs.HostLayout
	IsErr   uint8
	_       [7]uint8
	Payload uint64
}

// resultUnitStreamError is result<_, stream-error>.
type resultUnitStreamError struct {
	_       structs.HostLayout
	IsErr   uint8
	_       [3]uint8
	Payload [2]uint32
}

// listMem is list<T> or string: (ptr, len).
type listMem struct {
	_   structs.HostLayout
	Ptr uint32
	Len uint32
}
