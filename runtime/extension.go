package runtime

import (
	"context"

	"github.com/tetratelabs/wazero"
)

// An Extension registers more host modules into the wazero.Runtime that New
// prepares, such as the wasi:tls host. Register is called once by New, after
// every module of this package was registered. Host functions of an
// extension find the per-guest state through the context of their call
// (cabi.InstanceFrom), exactly like the modules of this package, and so
// share the guest's one resource table.
type Extension interface {
	Register(ctx context.Context, r wazero.Runtime) error
}

// ExtensionFunc adapts a function to an Extension.
type ExtensionFunc func(ctx context.Context, r wazero.Runtime) error

// Register implements Extension.
func (f ExtensionFunc) Register(ctx context.Context, r wazero.Runtime) error { return f(ctx, r) }
