// Package link binds the WASI imports of a guest to the interfaces a host
// implements, by interface name and compatible version, so that a guest
// built against any 0.2.N patch release of WASI runs on a host whose
// bindings were generated from another 0.2 patch release.
//
// # Model
//
// An [Implementation] is one generated interface served by the host: its
// name (wasi:clocks/wall-clock), the version of the WIT it was generated
// from (0.2.8) and a constructor of its functions (the generated
// Functions, as cabi.HostFunc values) for a given import module name. A
// [Linker] holds implementations, several versions of one interface if
// need be.
//
// An import module name "ns:pkg/iface@V" resolves to the implementations of
// ns:pkg/iface whose version is compatible with V: for a release version,
// every release with the same major and minor numbers (an implementation
// at 0.2.8 serves 0.2.0 and 0.2.12 alike); for a pre-release version
// (0.2.0-draft) only that exact version. One function of the module binds
// to the newest compatible implementation that has a function of that name
// with the same core signature. WASI patch releases add functions (marked
// @since) and documentation but change no signature, so a guest built for
// an older patch release finds all it imports; a guest built for a newer
// one finds everything except what was added after our newest
// implementation, and importing that is a [*LinkError] naming the
// interface, the version and the function.
//
// Nothing is registered per version in advance. [Linker.Define] reads the
// imports of one compiled module (wazero's CompiledModule.ImportedFunctions)
// and instantiates in the wazero runtime one host module for each import
// module name that it resolves and the runtime lacks, named exactly as
// imported; later guests importing the same name share it. Every host
// module of every version runs the same Go implementation, so resources
// (handles in the guest's cabi table) pass freely between versions.
//
// [Linker.Resolve] answers for a single function, for linkers that build
// their own host modules, such as the lowered imports of a component.
//
// Import modules whose interface the Linker does not know are left alone:
// other host modules (extensions) or the caller's own import check handle
// them.
package link
