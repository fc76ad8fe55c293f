// Package cabi is the guest half of the Canonical ABI for the wasi bindings
// under guest/wasi: the exported cabi_realloc the host calls to place returned
// strings and lists in guest memory, and the helpers the bindings use to
// turn guest addresses back into Go values.
//
// # Memory model
//
// Go on GOARCH=wasm has 64-bit pointers over a 32-bit linear memory, so the
// Canonical ABI's pointers are uint32 addresses here. Every binding follows
// the same pattern:
//
//  1. Argument buffers (lists, strings) passed to an import that may call
//     back into cabi_realloc are heap memory, kept alive with runtime.KeepAlive
//     until the import returns: a callback may grow, and so move, the calling
//     goroutine's stack, so a pointer into the stack would go stale.
//  2. Results that do not fit one core value come back through a return area
//     (the "retptr", the import's last parameter). The bindings use one static
//     return area ([RetArea]): imports never nest and a guest is single
//     threaded, and each binding copies the area into a local value before it
//     calls anything else.
//  3. Every block cabi_realloc hands out is pinned (reachable from a package
//     variable) until the binding has turned the addresses into Go slices or
//     strings, then released with [Unpin]. Without the pin, a garbage
//     collection triggered by a later cabi_realloc in the same import could
//     free a block the host already filled but the Go program does not yet
//     reference.
//  4. [ReadInto] lets a binding offer the caller's buffer as the destination
//     of the next single-byte-aligned allocation, so input-stream.read writes
//     straight into the slice handed to io.Reader.Read.
//
// Exactly one cabi_realloc exists per guest: this package defines it and every
// binding package imports this one.
package cabi
