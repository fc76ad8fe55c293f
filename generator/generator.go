// Package generator turns WIT into typed Go host bindings for wazero: the
// engine behind the wit2host command.
//
// # Model
//
// Generation is two steps. [Generate] first reads the chosen world of a
// resolved WIT ([wit.Resolve]) into a small model of its own (model.go):
// the interfaces the world imports or exports plus those their types come from, each
// with its declared types and functions, already named for Go, with the
// Canonical ABI layout of every type (abi.go). Then one emitter per
// interface writes a Go package with jennifer: one file of types and
// interfaces (one emitter file here per WIT kind: record.go, variant.go,
// enum.go, flags.go, resource.go, alias.go, function.go) and one file of
// wazero glue (glue.go, with the lift.go and lower.go helpers; for an
// interface the world exports, export.go's callers instead). Output is
// deterministic: the same WIT gives byte-identical files.
//
// The shape of the generated API, the contract with the code implementing
// it, is described in docs/bindings.md; the cabi package is the runtime
// support the generated glue calls.
package generator

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.bytecodealliance.org/wit"
)

// Options configures Generate.
type Options struct {
	// World selects the world: "host", "wasitls:host/host" or
	// "wasitls:host/host@0.1.0".
	World string
	// Package is the Go import path of the output directory; interface
	// packages go below it (Package + "/wasi/io/streams").
	Package string
	// Guest generates Go bindings for a GOOS=wasip1 guest instead of host
	// bindings: the world's imports as //go:wasmimport functions with typed
	// wrappers, its exports as //go:wasmexport functions (guest.go).
	Guest bool
}

// Load reads WIT from path (a file or a directory with a deps folder)
// through wasm-tools. Errors carry wasm-tools' message, with file and line.
func Load(path string) (*wit.Resolve, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	res, err := wit.LoadWIT(path)
	if err != nil {
		return nil, fmt.Errorf("generator: loading WIT from %s: %s", path, strings.TrimSpace(err.Error()))
	}
	return res, nil
}

// FindWorld returns the world of res named name, as Options.World.
func FindWorld(res *wit.Resolve, name string) (*wit.World, error) {
	var found []*wit.World
	for _, w := range res.Worlds {
		if w.Match(name) {
			found = append(found, w)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var names []string
		for _, w := range res.Worlds {
			names = append(names, w.Package.Name.String()+"/"+w.Name)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("generator: no world %q; the WIT has: %s", name, strings.Join(names, ", "))
	}
	var names []string
	for _, w := range found {
		names = append(names, w.Package.Name.String()+"/"+w.Name)
	}
	return nil, fmt.Errorf("generator: world %q is ambiguous: %s", name, strings.Join(names, ", "))
}

// Generate returns the Go files of the bindings of opts.World, with paths
// relative to the output directory, sorted by path.
func Generate(res *wit.Resolve, opts Options) ([]File, error) {
	if opts.Package == "" {
		return nil, errors.New("generator: no Go package path for the output")
	}
	w, err := FindWorld(res, opts.World)
	if err != nil {
		return nil, err
	}
	m, err := newModel(w, strings.TrimSuffix(opts.Package, "/"))
	if err != nil {
		return nil, fmt.Errorf("generator: %w", err)
	}
	var files []File
	emit := m.emit
	if opts.Guest {
		emit = m.emitGuest
	}
	for _, i := range m.Ifaces {
		fs, err := emit(i)
		if err != nil {
			return nil, fmt.Errorf("generator: %w", err)
		}
		files = append(files, fs...)
	}
	sort.Slice(files, func(a, b int) bool { return files[a].Path < files[b].Path })
	return files, nil
}

// Write writes files below dir and removes the files a previous generation
// left there that are no longer generated (recognized by their header).
func Write(dir string, files []File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("generator: output directory: %w", err)
	}
	keep := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		keep[p] = true
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("generator: %w", err)
		}
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, f.Data) {
			continue
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return fmt.Errorf("generator: %w", err)
		}
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || keep[p] {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.HasPrefix(b, []byte("// "+header)) {
			return os.Remove(p)
		}
		return nil
	})
}
