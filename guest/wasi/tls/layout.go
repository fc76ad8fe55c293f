package tls

import "structs"

// The memory layouts of values read from the return area. A host-side test
// compares every size, alignment and offset here with the WIT.

// listMem is list<T> or string.
type listMem struct {
	_   structs.HostLayout
	Ptr uint32
	Len uint32
}

// resultHandleMem is result<own<R>> (no error payload); also option<own<R>>.
type resultHandleMem struct {
	_      structs.HostLayout
	Tag    uint8
	_      [3]uint8
	Handle uint32
}

// optionListMem is option<string> and option<list<u8>>.
type optionListMem struct {
	_      structs.HostLayout
	IsSome uint8
	_      [3]uint8
	List   listMem
}

// optionU16Mem is option<u16>.
type optionU16Mem struct {
	_      structs.HostLayout
	IsSome uint8
	_      uint8
	Value  uint16
}

// futureStreamsGetMem is option<result<result<tuple<input-stream, output-stream>>>>.
type futureStreamsGetMem struct {
	_       structs.HostLayout
	IsSome  uint8
	_       [3]uint8
	Outer   uint8
	_       [3]uint8
	Inner   uint8
	_       [3]uint8
	Handles [2]uint32
}

// futureHandleGetMem is option<result<result<own<R>>>>.
type futureHandleGetMem struct {
	_      structs.HostLayout
	IsSome uint8
	_      [3]uint8
	Outer  uint8
	_      [3]uint8
	Inner  uint8
	_      [3]uint8
	Handle uint32
}

// futureOptionHandleGetMem is option<result<result<option<own<R>>>>>.
type futureOptionHandleGetMem struct {
	_      structs.HostLayout
	IsSome uint8
	_      [3]uint8
	Outer  uint8
	_      [3]uint8
	Inner  uint8
	_      [3]uint8
	Option resultHandleMem
}
