package abitest

import (
	"context"

	"github.com/tetratelabs/wazero"
)

// compileCache is the compilation cache every test's runtime shares: the tests
// compile the same few Go guests dozens of times (each plugin test twice,
// once per guest), and compiling one takes seconds of CPU, which on a
// loaded machine made the package run into go test's timeout. Each test
// still gets a runtime, module instances and a cabi.Instance of its own.
var compileCache = wazero.NewCompilationCache()

// newRuntime is wazero.NewRuntime on the shared compilation cache.
func newRuntime(ctx context.Context) wazero.Runtime {
	return wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(compileCache))
}
