package main

import (
	"os"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/testpeer"
)

// TestMain repeats the interop peers and tools that were missing after the
// tests. The in-process runs share one compilation cache (see
// compilationCache): each guest is compiled once, not once per run, since
// compiling anew took the package to go test's 10-minute timeout on a
// loaded machine.
func TestMain(m *testing.M) {
	compilationCache = wazero.NewCompilationCache()
	os.Exit(testpeer.Main(m))
}
