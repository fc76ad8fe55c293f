//go:build wasip1

// Command proxy is a reactor (build with -buildmode=c-shared) exporting
// wasi:http/incoming-handler@0.2.8 with the Canonical ABI written out by
// hand: handle reads the request's path, drops the request, and answers
// through the response-outparam with 200 for "/ok", 404 else, so that the
// generated host caller of wasi:http/proxy's export is checked against an
// independent implementation of the guest side.
package main

import "unsafe"

func main() {}

var keep [][]byte

//go:wasmexport cabi_realloc
func cabiRealloc(oldPtr, oldSize, align, newSize uint32) uint32 {
	b := make([]byte, newSize+align)
	keep = append(keep, b)
	p := uint32(uintptr(unsafe.Pointer(&b[0])))
	return (p + align - 1) &^ (align - 1)
}

//go:wasmimport wasi:http/types@0.2.8 [method]incoming-request.path-with-query
func pathWithQuery(self uint32, retptr unsafe.Pointer)

//go:wasmimport wasi:http/types@0.2.8 [resource-drop]incoming-request
func dropIncomingRequest(self uint32)

//go:wasmimport wasi:http/types@0.2.8 [constructor]fields
func newFields() uint32

//go:wasmimport wasi:http/types@0.2.8 [constructor]outgoing-response
func newOutgoingResponse(headers uint32) uint32

//go:wasmimport wasi:http/types@0.2.8 [method]outgoing-response.set-status-code
func setStatusCode(self, code uint32) uint32

// response-outparam.set(param, result<outgoing-response, error-code>): the
// result flattens to a discriminant and the joined error-code payload.
//
//go:wasmimport wasi:http/types@0.2.8 [static]response-outparam.set
func responseOutparamSet(param, disc, p1, p2 uint32, p3 uint64, p4, p5, p6, p7 uint32)

// option<string>: discriminant at 0, pointer at 4, length at 8.
var ret [12]byte

//go:wasmexport wasi:http/incoming-handler@0.2.8#handle
func handle(request, out uint32) {
	pathWithQuery(request, unsafe.Pointer(&ret[0]))
	var path string
	if ret[0] == 1 {
		p := *(*uint32)(unsafe.Pointer(&ret[4]))
		n := *(*uint32)(unsafe.Pointer(&ret[8]))
		path = string(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), uintptr(p))), n))
	}
	dropIncomingRequest(request)
	resp := newOutgoingResponse(newFields())
	code := uint32(404)
	if path == "/ok" {
		code = 200
	}
	if setStatusCode(resp, code) != 0 {
		panic("set-status-code failed")
	}
	responseOutparamSet(out, 0, resp, 0, 0, 0, 0, 0, 0)
}
