// Package cabi is the guest half of the Canonical ABI for the Go guest
// bindings wit2host -guest generates (guest/wasi/bindings, and any other
// generated guest package): the exported cabi_realloc the host calls to
// place returned strings and lists in guest memory, and the helpers the
// generated code calls to pass Go memory to an import and to turn what the
// host wrote back into Go values.
//
// # Memory model
//
// Go on GOARCH=wasm has 64-bit pointers over a 32-bit linear memory, so the
// Canonical ABI's pointers are uint32 addresses here. Every generated
// binding follows the same pattern:
//
//  1. Strings and lists passed to an import are passed by address ([Addr]),
//     which keeps them reachable until [Unpin] and, because it stores them
//     in a package variable, on the heap: a callback into cabi_realloc may
//     grow, and so move, the calling goroutine's stack, so a pointer into
//     the stack would go stale. Lists whose elements are not their memory
//     form are stored into a heap block first ([Alloc]).
//  2. Results that do not fit one core value come back through a return
//     area (the import's last parameter): a static area per function, sized
//     from the layout, so that no call allocates one.
//  3. Every block cabi_realloc hands out stays valid (from the arena, or
//     pinned on the heap) until the binding has copied the strings and
//     lists into Go memory ([LiftString], [LiftList]), then is released
//     with [Unpin]. Without the pin, a garbage collection triggered by a
//     later cabi_realloc in the same import could free a block the host
//     already filled but the Go program does not yet reference.
//  4. [Offer] (and [ReadInto] for bytes) lets a caller offer its own buffer
//     as the destination of the next allocation, so a list result the
//     caller can size lands there without a copy (io.InputStream.ReadInto,
//     io.PollInto).
//
// # Offer slot
//
// An offered region is published in the offer slot, a package variable of
// four uint32 fields {ptr, size, served, zero} whose address the exported
// cabi_offer_slot returns. A host that knows the slot (package cabi of
// this module's host asks for it once per instance) serves a fresh
// allocation (original pointer and size 0) from it instead of calling
// cabi_realloc, under exactly the conditions cabi_realloc itself applies:
// a zero-sized allocation gets zero's address; otherwise, when ptr is not
// 0, the size fits in size bytes and ptr is a multiple of the alignment,
// the allocation gets ptr, and the host sets ptr and size to 0 and served
// to ptr, as cabi_realloc would. Anything else goes to cabi_realloc. The
// host only reads and writes the slot during an import of this guest, so
// the guest sees the same state either way: [LiftList] recognises the
// region by served, and [Unpin] clears the slot. A host that does not know
// the slot calls cabi_realloc every time, with the same result.
//
// Exports work the other way: the generated //go:wasmexport function lowers
// its result into a static return area with the same helpers, and the
// matching cabi_post_ export calls [Unpin]. The borrows of host resources
// an export was lent inside its arguments are recorded ([Lent]) before the
// implementation runs and ended ([EndBorrows]) after it returns.
//
// Exactly one cabi_realloc exists per guest: this package defines it and
// every generated binding imports this one.
package cabi
