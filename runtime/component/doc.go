// Package component loads and instantiates WebAssembly components on
// wazero: the synchronous subset of the Component Model that wit-component
// (`jco new`, `wasm-tools component new`) emits for WASI 0.2 guests.
//
// # Model
//
// Parsing and instantiation are two steps with two owners.
//
// [Parse] decodes a component binary into a [Component]: its definitions in
// binary order ([Def]), each of which appends one item to an index space of
// its [Sort] (core modules, core instances, core functions, memories,
// tables, globals, core types; component functions, types, components,
// instances). Core module bytes are kept as sub-slices of the input; nested
// components are parsed recursively. Types stay as they are written, with
// index references ([ValType] is a primitive or a type index). Parse
// refuses, as errors, malformed and truncated input and every feature
// outside the supported subset: component-model async (async function
// types, the async, callback and task built-ins), stream<T>, future<T>,
// error-context, UTF-16 and Latin-1 strings, value definitions. A
// [*NotSupportedError] names the feature.
//
// [Instantiate] runs the definitions of a parsed component in order against
// a wazero.Runtime. Its state is a scope: the index spaces as resolved items
// (an instance of a core module is a wazero api.Module; a core function is
// an export of one; a component function is either imported, a
// (interface, function) pair, or lifted, a core function with its
// options). Types are resolved when defined into pointer graphs ([rtype])
// that no longer refer to indices, so a function type keeps its meaning
// when aliased out of an instance type. The loader owns:
//
//   - the core module instances: every core module is compiled and
//     instantiated anonymously, its imports resolved through
//     experimental.WithImportResolver to the argument instances of its
//     `instantiate`, never to modules registered in the runtime;
//   - the synthetic core instances: a core instance made of exports is a
//     tiny generated core module that imports each item from where it lives
//     and re-exports it under its new name, so functions, memories and
//     globals keep their identity;
//   - the lowered functions: each `canon lower` of an imported function
//     binds to the generated glue of that interface (the [Linker] looks it
//     up by interface, version and name, checking the core signature), and
//     the glue is called with a [cabi.Lowered] that carries the memory and
//     realloc that `canon lower` named. The generated glue stays the one
//     place where the Canonical ABI is applied to host calls; the adapter's
//     cabi_import_realloc is honoured because it is the option, not a
//     module's export;
//   - the handle tables: each component instance has its own, as the
//     Component Model requires: the outer one the cabi.Instance's table,
//     each nested one a table the cabi.Instance makes for it
//     (cabi.Instance.NewTable) when it first lowers, lifts or defines a
//     resource built-in (the nested components wit-component makes to
//     type an export only re-export, and make none). Its lowered imports
//     (cabi.Options.Table), resource built-ins and lifted exports use that
//     table, so one instance cannot name a handle another holds; the
//     cabi.Instance's limit holds all its tables together, and its Close
//     drains them all;
//   - the resource built-ins: `canon resource.drop` of an imported resource
//     binds to the interface's [resource-drop] glue; resource.new, .rep and
//     .drop of a resource the component defines keep its representation in
//     the component instance's table. As the Component Model requires,
//     resource.new and resource.rep are refused for a type another
//     component defines (reached by an outer alias or an instantiation
//     argument): they would let a nested instance forge or read another's
//     handles.
//
// Lowered canonical built-ins are collected into host modules, one per
// batch between two core instantiations that need them, instantiated
// anonymously. The [Instance] returned keeps every module it instantiated
// and closes them, last first.
//
// wit-component routes an import lowered with the importing module's own
// memory through a generated indirect-call shim whose table a fixup module
// fills later. The loader instantiates both as written, and where the
// fixup is to put one of its canonical built-ins in a slot, the main
// module imports a host trampoline that calls the built-in directly
// instead of the shim's call_indirect (see shim.go for how shims and
// fixups are recognized and what keeps it equivalent). Slots the fixup
// fills with core functions, such as the preview1 adapter's, stay in the
// shim.
//
// # Exports
//
// A lifted export is called from Go with [Instance.Call]: arguments are
// lowered and results lifted by the Canonical ABI ([Value]), then the
// post-return function, if any, runs. A command component's wasi:cli/run
// export is [Instance.Run]. Handles cross in both directions: a resource
// the component defines is a [*Handle], one it imports from the host is a
// [HostResource] (a value the generated glue would put in the table, with
// its type). [Instance.Guest] presents one exported interface to the typed
// callers wit2host generates (a cabi.OptionsGuest: each lifted core
// function under its canonical core name, with its own lift's options),
// so they call a component as they call a core module; as a
// cabi.TypedGuest it also gives each function's type (typetext.go), which
// the generated Bind checks against the WIT.
// Handles cross into and out of the table of the component instance
// that lifted the export called: an own<R> argument moves into it, an
// own<R> result leaves it. A HostResource passed as borrow<R> is lent
// to the component for the call in that table ([cabi.Table.Lend]): its
// resource.drop ends the borrow, not the resource, and what it still
// holds when the call returns is taken back and reported.
//
// # Faults
//
// Parse errors and link errors are returned, never panicked. A trap in a
// core module or in a host function is the error of the call into the
// component that was running; the instance is then poisoned and further
// calls fail.
package component
