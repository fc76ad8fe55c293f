package bench

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// cguestSource is the C benchmark guest (cguest/cguest.c): raw
// canonical-ABI imports of wasi:tls@0.2.0-draft and blocking host calls,
// the host's floor.
//
//go:embed cguest/cguest.c
var cguestSource []byte

// CToolsHint says what the C guest needs.
const CToolsHint = "clang, wasm-ld and wasi-libc; install: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32"

// A MissingToolError says which tool the C guest could not be built
// without; its rows are skipped then.
type MissingToolError struct{ Tool string }

func (e *MissingToolError) Error() string {
	return fmt.Sprintf("C guest not built: %s missing (%s)", e.Tool, CToolsHint)
}

// wasiSysroot is where Debian's wasi-libc installs its headers.
const wasiSysroot = "/usr/include/wasm32-wasi/stdio.h"

// buildCGuest compiles the C guest with clang and wasi-libc into a wasip1
// module with a _start (a reactor with its own _start, see cguest.c). A
// missing tool gives a *MissingToolError.
func buildCGuest() ([]byte, error) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		return nil, &MissingToolError{Tool: "clang"}
	}
	if _, err := exec.LookPath("wasm-ld"); err != nil {
		return nil, &MissingToolError{Tool: "wasm-ld"}
	}
	if _, err := os.Stat(wasiSysroot); err != nil {
		return nil, &MissingToolError{Tool: "wasi-libc"}
	}
	dir, err := os.MkdirTemp("", "cguest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src, out := filepath.Join(dir, "cguest.c"), filepath.Join(dir, "cguest.wasm")
	if err := os.WriteFile(src, cguestSource, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(clang, "--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Werror", "-o", out, src)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: building the C guest: %v\n%s", err, log.String())
	}
	return os.ReadFile(out)
}
