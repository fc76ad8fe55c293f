// Package include holds the C headers the C guests share: the raw
// Canonical ABI imports of wasi:io, wasi:clocks, wasi:sockets, wasi:tls
// (the upstream draft and the full proposal, pr104) and the project's
// extensions, one C declaration per WIT function with its WIT signature
// and the layout of its result (import.h says how to read them). The
// guests (bench/cguest, runtime/testdata/components,
// runtime/tlshost/testdata/components) include them by name; whatever
// builds a guest puts them on clang's include path with [Write].
package include

import (
	"embed"
	"os"
	"path/filepath"
)

//go:embed *.h
var headers embed.FS

// Write copies the headers into dir, which it makes, for clang's -I dir.
func Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := headers.ReadDir(".")
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := headers.ReadFile(f.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
