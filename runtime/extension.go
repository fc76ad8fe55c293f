package runtime

import (
	"context"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/runtime/link"
)

// An Extension registers more host modules into the wazero.Runtime that New
// prepares, such as the wasi:tls host. Register is called once by New, after
// every module of this package was registered. Host functions of an
// extension find the guest through the context of their call
// (GuestFrom, or cabi.InstanceFrom for the table alone), exactly like
// the modules of this package, and so share the guest's one resource
// table; a GuestExtension also keeps state per guest. Register gets a
// wazero.Runtime whose host module builders guard every function they
// are given: a panic of one, but an exit, marks the calling guest's
// instance trapped and traps it with "MODULE.NAME: host panic: VALUE"
// (an exit marks it exited). The guard costs a few nanoseconds a call:
// a function given by WithFunc is registered as the api.GoModuleFunction
// wazero would make of it (the same value types, names and refusals),
// called directly when it takes up to four uint32 after an optional
// context.Context and api.Module and returns nothing or one uint32, and
// through reflect otherwise, as wazero calls it.
// wazero's function exporters (emscripten's, for one), which take
// wazero's own builder only, fail New: instantiate those modules on the
// wazero.Runtime before New.
type Extension interface {
	Register(ctx context.Context, r wazero.Runtime) error
}

// ExtensionFunc adapts a function to an Extension.
type ExtensionFunc func(ctx context.Context, r wazero.Runtime) error

// Register implements Extension.
func (f ExtensionFunc) Register(ctx context.Context, r wazero.Runtime) error { return f(ctx, r) }

// A GuestExtension is an Extension with per-guest state. NewGuest is
// called for each guest, core module or component, with the context its
// calls will carry, before the guest is instantiated; it keeps its state
// with g.SetValue, where the extension's host functions find it
// (GuestFrom(ctx).Value). An error fails the instantiation.
type GuestExtension interface {
	Extension
	NewGuest(ctx context.Context, g *Guest) error
}

// A LinkedExtension is an Extension whose interfaces the runtime's Linker
// serves too, by compatible version: the lowered imports of a component
// bind through the Linker, not through registered host modules, so a
// component can import an extension's interfaces only when it is linked.
// Implementations is called once, after Register.
type LinkedExtension interface {
	Extension
	Implementations() []link.Implementation
}
