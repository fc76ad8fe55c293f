package tlsext

import "structs"

// resultStringErrMem is result<_, string>. A host-side test compares it with
// the WIT.
type resultStringErrMem struct {
	_     structs.HostLayout
	IsErr uint8
	_     [3]uint8
	Ptr   uint32
	Len   uint32
}

// optionU16Mem is option<named-group>.
type optionU16Mem struct {
	_      structs.HostLayout
	IsSome uint8
	_      uint8
	Value  uint16
}

// listMem is list<T>.
type listMem struct {
	_   structs.HostLayout
	Ptr uint32
	Len uint32
}

// algorithmsMem is the record algorithms: three lists.
type algorithmsMem struct {
	_            structs.HostLayout
	Versions     listMem
	CipherSuites listMem
	Groups       listMem
}

// resultHandleStringMem is result<private-identity, string>: the handle
// at Ptr when IsErr is 0, the message at (Ptr, Len) otherwise.
type resultHandleStringMem = resultStringErrMem

// optionHandleMem is option<private-identity>.
type optionHandleMem struct {
	_      structs.HostLayout
	IsSome uint8
	_      [3]uint8
	Handle uint32
}
