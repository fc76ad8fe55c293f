// Package stopcheck rewrites a WebAssembly core module so that the host can
// stop it, wherever it computes, by setting one global: the check that
// wazero's WithCloseOnContextDone(true) inserts at every loop header (a
// call out to Go, every time) becomes a countdown in native code that
// leaves native code once every [Period] checks.
//
// # The rewrite
//
// [Instrument] parses the module's sections (WebAssembly Core
// Specification 2.0, Section 5, "Binary Format") and
//
//   - appends three mutable i32 globals, the stop flag (0), a countdown
//     (Period) and the stack budget (see below), and one empty funcref
//     table, each after the module's own
//     (imported, then defined), so that no existing index moves, creating
//     the sections the module lacks;
//
//   - exports the stop global under [GlobalName] and the stack budget
//     under [StackName] (refusing a module that already exports either
//     name, or imports them or [StartName] from any
//     module: another instance's stop global, which a module that could
//     write would clear between that instance's checks);
//
//   - decodes every instruction of every function body and inserts the
//     check (see checkCode) right after each loop's block type and before
//     each return_call and return_call_indirect (the tail calls, the other
//     way a function runs forever without growing the stack), and the
//     stack budget's accounting (see below); then rewrites each body's
//     size and the code section's size.
//
// Each table the module defines gets a maximum, so that together they hold
// at most Options.TableEntries entries ([DefaultTableEntries] unless
// [InstrumentWith] says otherwise); the table it adds has none to grow
// to. [CapTables] makes only that change, for a module that runs without
// the stop flag.
//
// A start section is dropped and its function exported as StartName
// instead: it would run while the module is instantiated, before the host
// can reach the global; the host calls it once the global is armed (a
// start function not of type [] -> [], and sections out of order or
// repeated, are refused, as validation would have). Every other section
// is copied byte for byte.
//
// The instruction decoder knows the opcodes wazero 1.12 accepts by default
// (MVP, sign extension, saturating truncation and bulk memory under 0xFC,
// reference types, multi-value block types, the 128-bit SIMD under 0xFD)
// and the tail calls; anything else (threads, exception handling, typed
// function references, relaxed SIMD, an unknown opcode) is refused with an
// error naming the opcode and its offset, and no output.
//
// # The stack budget
//
// A guest's call stack is wazero's: each call engine (each call into the
// guest, those nested inside host calls included) has a Go-allocated
// stack that doubles up to some 50 MB, outside the guest's memory limit,
// and wazero has no setting for it. So each function that calls (a leaf
// adds one frame at most on top of those counted) takes a weight from the
// stack global at its entry, and traps ("unreachable") when that leaves
// the global negative; it gives the weight back on every way out: a
// block of the function's result type wraps its instructions, so that
// branches to the function's label land inside it, and the give-back
// follows that block's end, and comes before each return, return_call
// and return_call_indirect. A function of several results needs a type
// [] -> those results to wrap its body (a block type): the first of the
// module's, or one appended to its type section (after its own types, so
// that no index moves; a type index at or past the first appended is
// refused wherever the module names one, as an invalid module that the
// appended type would make valid). A branch to a label past the
// function's is refused too (invalid, and the wrapping block would make
// it valid).
//
// [InstrumentStack] makes the stack budget's part of the rewrite alone
// (the stack global, its export, the accounting, the start function
// exported, the tables' maximums), for a module that runs under wazero's
// termination checks rather than the stop flag: wazero's stack grows the
// same there, and each level of nested calls has its own.
//
// The weight (frameWeight) is 1 + 8 bytes for each parameter, local and
// byte of the body, in units of [StackUnit] bytes: wazero's frame holds
// the parameters and locals, and spill slots for the values the body
// computes, which its bytes bound (TestStackWeightCovers checks the
// accounted bytes exceed wazero's own ceiling when a recursion reaches
// it). The global starts at [DefaultStackBytes]; the host sets it
// ([StackUnits]) before the guest runs, and again before each outermost
// call, since a trap leaves the frames it unwound counted. The global is
// negative only after the budget's trap ([StackExceeded]), which is how
// the host tells that trap from the guest's own.
//
// # The check
//
// Each check decrements the countdown; when it reaches zero, it resets it,
// leaves native code through table.grow of the added table by 0 (wazero
// runs table.grow in Go), and traps with "unreachable" if the stop global
// is set. A loop header is where every unbounded computation of wasm
// passes (a branch backwards only targets a loop), and recursion either
// overflows the stack, which traps, or is a tail call: so once the global
// is set the guest traps within Period loop iterations or tail calls.
//
// The exit to Go is what makes the flag safe in a Go host: a goroutine in
// native code cannot be preempted, so without it a guest spinning in a
// loop would hold its P for ever, and a garbage collection's
// stop-the-world would wait for it, every goroutine with it, the one that
// would set the global included (TestGCWhileSpinning). A check that only
// loads the flag is not enough.
//
// The host sets the global with wazero's api.MutableGlobal.Set. wazero's
// compiler (wazevo) loads a global again at a block with more than one
// predecessor, which an if's merge and a loop header are, and does no
// loop-invariant hoisting. The store is a plain one from another goroutine
// into memory native code reads, outside what the Go memory model or the
// race detector see: the guest sees it once it reaches its core's cache,
// which on amd64 and arm64 is promptly.
//
// Instrument does not validate the module beyond what it must decode: the
// result goes to wazero, which validates it. A module that validated
// before validates after, and one that did not must not validate after
// either: an invalid module naming a global or table just past its own
// would name what Instrument adds, and a guest that writes its own
// countdown never leaves native code (and its stop flag, never stops).
// So Instrument refuses any global, table or type index at or past the
// first one it adds, in code, imports, exports and element segments, reads the table
// and global sections whole before appending to them, and refuses a
// vector whose count exceeds its section's bytes (FuzzInstrument checks
// both directions; TestRefuses has the forged indices).
package stopcheck
