package bench

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/wasitls/wasitls/internal/cguest/include"
)

// The C benchmark guests, the host's floor: raw canonical-ABI imports and
// blocking host calls. cguestSource (cguest/cguest.c) is the client, on
// wasi:tls@0.2.0-draft; cserverSource (cguest/cserver.c) the server, on
// wasi:tls/tls@0.2.0-pr104 and the project's extensions (the draft has no
// server side).
var (
	//go:embed cguest/cguest.c
	cguestSource []byte
	//go:embed cguest/cserver.c
	cserverSource []byte
)

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

// buildCGuests compiles the C guest client and server (see buildC).
func buildCGuests() (client, server []byte, err error) {
	if client, err = buildC("cguest", cguestSource); err != nil {
		return nil, nil, err
	}
	if server, err = buildC("cserver", cserverSource); err != nil {
		return nil, nil, err
	}
	return client, server, nil
}

// buildC compiles the C source of the guest name with clang and wasi-libc
// into a wasip1 module with a _start (a reactor with its own _start, see
// cguest.c), with the shared import headers (package include) on the
// include path. A missing tool gives a *MissingToolError.
func buildC(name string, source []byte) ([]byte, error) {
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
	dir, err := os.MkdirTemp("", name)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src, out, inc := filepath.Join(dir, name+".c"), filepath.Join(dir, name+".wasm"), filepath.Join(dir, "include")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return nil, err
	}
	if err := include.Write(inc); err != nil {
		return nil, err
	}
	cmd := exec.Command(clang, "--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Werror", "-I", inc, "-o", out, src)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: building the C guest %s: %v\n%s", name, err, log.String())
	}
	return os.ReadFile(out)
}
