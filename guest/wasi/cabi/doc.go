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
//     form, and spilled parameters, are stored into a block first
//     ([Scratch]): from the arena (item 3), which the call's [Unpin]
//     releases, so that lowering them allocates nothing.
//  2. Results that do not fit one core value come back through a return
//     area (the import's last parameter): a static area per function, sized
//     from the layout, so that no call allocates one.
//  3. Every block cabi_realloc hands out stays valid (from a 256 KiB
//     static arena, or pinned on the Go heap beyond it) until the binding
//     has copied the strings and lists into Go memory ([LiftString],
//     [LiftList]), then is released with [Unpin]. Without the pin, a
//     garbage collection triggered by a later cabi_realloc in the same
//     import could free a block the host already filled but the Go
//     program does not yet reference.
//  4. [Offer] (and [ReadInto] for bytes) lets a caller offer its own buffer
//     as the destination of the next allocation, so a list result the
//     caller can size lands there without a copy (io.InputStream.ReadInto,
//     io.PollInto). While no caller offers one, a 4 KiB static region
//     (standing) is offered instead, so that the first string or list of
//     a result that fits (a server name, an error message, a chain's outer
//     list) costs the host no call back into the guest; its lift copies it
//     out, as from the arena.
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
// region by served, and [Unpin] withdraws it. A host that does not know
// the slot calls cabi_realloc every time, with the same result. Between
// imports the slot offers standing (item 4 above), which [Offer] replaces
// and [Unpin] puts back; [LiftList] copies out of standing, as it copies
// out of the arena.
//
// # Gate
//
// The state above is per call but shared by the whole guest: the return
// areas (one per function), the arena, the pinned and kept blocks and the
// offer slot. Go on wasip1 runs one goroutine at a time and switches only
// where a goroutine blocks, so a call owns that state as long as it does
// not block, and it never does, except inside the Go runtime: an
// allocation may start a collection, which parks the allocating goroutine
// while it starts the background mark workers (the first collection of
// every guest), or park it in a GC assist. Two places allocate while the
// state is in use: cabi_realloc beyond the arena, in the middle of the
// host's call, and the lifts that copy results into Go memory, after it.
// When cabi_realloc parks, Go's wasmexport wrapper runs the scheduler
// (wasm_pc_f_loop_export in the runtime) until realloc returns, and any
// goroutine it runs that calls an import re-enters the host while the
// first import is in progress, which the host traps; when a lift parks,
// another goroutine's call would overwrite the return area, the arena or
// the offer slot, or unpin the blocks the lift is reading.
//
// The gate is one flag, busy, that every import call site checks first:
//
//   - A call with per-call state (strings, lists or spilled parameters to
//     lower, strings or lists to lift, or a return area) calls [Enter]
//     before it lowers anything: it waits while busy is set, then sets it.
//     [Unpin] (or [Leave], for a return area without strings or lists)
//     clears it once the results are Go values.
//   - Any other call (scalar parameters and results, resource drops)
//     calls [Wait], which waits without setting it.
//   - cabi_realloc sets it around its heap allocation (and restores it), so that the window is covered also when
//     the host allocates an export's arguments, outside any binding.
//   - [Offer] waits before it writes the offer slot (the call it prepares
//     follows it with nothing that can block in between, and enters).
//
// A waiter blocks on a channel receive, and a gatekeeper goroutine (parked
// while nobody waits) yields with runtime.Gosched until the gate is free,
// then wakes the waiters one at a time; each re-checks, since another may
// have taken the gate first. The owner is parked inside the Go runtime,
// not on anything a waiter holds, so the scheduler resumes it: it returns
// from realloc to the host (which ends the nested scheduler loop on its
// own goroutine) and clears the gate once its results are Go values.
// Between the check and the store nothing can switch goroutines, so the
// gate needs no atomics.
//
// The fast paths are shaped for Go's WebAssembly code and wazero. [Wait]
// is a load and a branch, with a receive rather than a call on the slow
// path so that the wrappers that were inlined (pollable.ready, subscribe)
// stay within the inliner's budget, and an if around the loop so that a
// free gate falls through. [Enter] is in wrappers that are not inlined and
// mostly have no branch of their own: a branch there gives the function a
// loop over its blocks, whose header wazero's termination checks turn into
// a call out of the guest per call, so Enter calls through a table indexed
// by the gate instead (a no-op when free) and stores. [Unpin] and [Leave]
// store. [Stats] counts the heap allocations, the wake-ups and the
// gatekeeper's yields, for tests.
//
// An export suspends the gate ([Suspend]) for its run, up to its
// post-return ([Resume]): the host may call it inside one of the guest's
// imports (a destructor run by a drop, a host calling back), on the
// goroutine that holds the gate, and its own imports would otherwise wait
// for that goroutine forever.
//
// The gate does not cover a hand-written import call that skips [Wait],
// the Go runtime's own wasi_snapshot_preview1 imports (fd_write,
// poll_oneoff; the host serves those without the re-entrancy check), or
// an export's arguments: the host places them through cabi_realloc before
// the export runs, and the export runs with the gate suspended. That
// matters only in a reactor (-buildmode=c-shared) whose goroutines
// outlive an export call, if one of them is parked inside a binding's
// lift when the host calls the next export.
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
