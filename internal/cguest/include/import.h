// import.h: what the other headers here build on. Each of them declares
// the raw Canonical ABI imports of one WIT interface (or one world's worth
// of an interface) for the C guests, one C function per WIT function: the
// IMPORT line names the interface and the function as the component's
// imports do, the comment above gives the WIT signature, and where the
// result does not fit one value, where it lands in the return area ret
// the caller passes ("@4": at byte 4). A declaration nobody calls adds no
// import to the module.
//
// How WIT types lower (Canonical ABI): a resource handle is a uint32_t;
// a string or list<T> is a pointer and a length (two parameters, or
// bytes_t in a list); a result or option starts with its discriminant
// byte (0 ok / none, 1 err / some) and its payload follows at its
// alignment; a result<_, _> with no payloads at all is a plain return
// value. More than 16 flat parameters, or more than one flat result, go
// through memory.
#ifndef WASITLS_IMPORT_H
#define WASITLS_IMPORT_H

#include <stdint.h>

// IMPORT(module, name) makes the declaration that follows the import name
// of module (the interface, with its version).
#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

// The version of the wasi:io, wasi:clocks and wasi:sockets interfaces.
#define WASI_VERSION "@0.2.8"

// A list<u8> or string inside a list, as the Canonical ABI lays it out.
typedef struct {
	const void *ptr;
	uint32_t len;
} bytes_t;

#endif
