package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmsize"
	"github.com/wasitls/wasitls/runtime/link"
)

// ErrComponent is returned by CheckBinary for a WebAssembly component:
// parse it with component.Parse and run it with
// Runtime.InstantiateComponent or RunComponent instead.
var ErrComponent = errors.New("runtime: the file is a WebAssembly component, not a core module: " +
	"parse it with runtime/component.Parse and use Runtime.InstantiateComponent or RunComponent")

// ErrImportsGuest is wrapped by the error of Instantiate for a module
// that imports from another guest's module instance (one instantiated
// with a ModuleConfig.Name, which wazero would otherwise resolve the
// import to, whichever Runtime instantiated it): guests link to host
// modules only, so that no guest calls into another or reaches its
// memory, tables or globals.
var ErrImportsGuest = errors.New("runtime: an import from another guest")

// CheckBinary reports whether wasm looks like a core module this runtime
// can run, with an error saying what to do when it does not. It refuses a
// module declaring counts or lengths its bytes do not hold, or too many
// locals (a *wasmsize.Error): wazero's decoder would allocate for them
// first, and a few bytes could make the process die out of memory.
func CheckBinary(wasm []byte) error {
	magic := []byte{0x00, 'a', 's', 'm'}
	switch {
	case len(wasm) == 0:
		return errors.New("runtime: not a WebAssembly binary: it is empty")
	case len(wasm) < 8 && bytes.HasPrefix(wasm, magic[:min(len(wasm), 4)]):
		return fmt.Errorf("runtime: truncated: it ends after %d of the 8 bytes of a WebAssembly header; not a complete WebAssembly module", len(wasm))
	}
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], magic) {
		if format := nativeFormat(wasm); format != "" {
			return fmt.Errorf("runtime: not a WebAssembly binary but a native %s executable: "+
				"build a Go guest with GOOS=wasip1 GOARCH=wasm", format)
		}
		return errors.New("runtime: not a WebAssembly binary (no \\0asm header)")
	}
	switch {
	case bytes.Equal(wasm[4:8], []byte{1, 0, 0, 0}):
		if err := wasmsize.Check(wasm); err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
		return nil
	case wasm[6] == 1 && wasm[7] == 0 || wasm[6] == 0x0d && wasm[7] == 0:
		// Components carry layer 1 in bytes 6 and 7.
		return ErrComponent
	}
	return fmt.Errorf("runtime: unsupported WebAssembly binary version % x", wasm[4:8])
}

// nativeFormat names the executable format whose magic number starts b,
// or returns "".
func nativeFormat(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return "ELF"
	case bytes.HasPrefix(b, []byte("MZ")):
		return "PE (Windows)"
	case len(b) >= 4 && (bytes.Equal(b[:4], []byte{0xcf, 0xfa, 0xed, 0xfe}) || bytes.Equal(b[:4], []byte{0xce, 0xfa, 0xed, 0xfe})):
		return "Mach-O"
	}
	return ""
}

// MissingImportsError lists the imports a guest needs that the runtime
// does not provide.
type MissingImportsError struct {
	Missing []string // "module#name" entries, sorted, with the reason when known

	// Link holds the imports of WASI interfaces the runtime implements
	// that no implemented version serves (a function of a newer patch
	// version, a signature mismatch, an incompatible version).
	Link []*link.LinkError
}

// Unwrap returns the link errors.
func (e *MissingImportsError) Unwrap() []error {
	errs := make([]error, len(e.Link))
	for i, le := range e.Link {
		errs[i] = le
	}
	return errs
}

func (e *MissingImportsError) Error() string {
	msg := fmt.Sprintf("runtime: the guest imports %d functions this runtime does not provide:\n\t%s",
		len(e.Missing), strings.Join(e.Missing, "\n\t"))
	var tls bool
	var own []string
	for _, m := range e.Missing {
		if strings.HasPrefix(m, "gojs#") {
			return msg + "\nthe guest was built with GOOS=js, for a JavaScript host (module gojs): build it with GOOS=wasip1 GOARCH=wasm"
		}
		mod, _, _ := strings.Cut(m, "#")
		if !strings.HasSuffix(m, "(no such module)") {
			continue
		}
		switch {
		case strings.HasPrefix(mod, "wasi:tls/"), strings.HasPrefix(mod, "wasitls:tls/"):
			tls = true
		case !strings.Contains(mod, ":") && !slices.Contains(own, mod):
			own = append(own, mod)
		}
	}
	if tls {
		msg += "\nwasi:tls is served by an extension: list tlshost.New(tlshost.Config{...}) " +
			"(package runtime/tlshost) in runtime.Config.Extensions"
	}
	if len(own) > 0 {
		msg += fmt.Sprintf("\nno module %s is registered in the wazero runtime: a program embedding the runtime "+
			"registers host modules of its own there (wazero.Runtime.NewHostModuleBuilder) before Instantiate", strings.Join(own, ", "))
	}
	return msg
}

// MissingReallocError says that a guest imports functions that return
// strings or lists but does not export cabi_realloc to receive them.
type MissingReallocError struct {
	Functions []string // the imports that need it, sorted
}

func (e *MissingReallocError) Error() string {
	return fmt.Sprintf("runtime: the guest imports functions that return strings or lists but exports no cabi_realloc "+
		"(func(old_ptr, old_size, align, new_size i32) -> i32) to allocate them in its memory; "+
		"export one (Go: //go:wasmexport cabi_realloc), or use a guest library that does. Functions:\n\t%s",
		strings.Join(e.Functions, "\n\t"))
}

// CheckImports checks every function compiled imports against the host
// modules registered in r: missing modules or functions and signature
// mismatches are listed in a *MissingImportsError. It also returns a
// *MissingReallocError when the guest imports a WASI function that returns
// a string or list and lacks cabi_realloc.
func CheckImports(compiled wazero.CompiledModule, r wazero.Runtime) error {
	return checkImports(compiled, r, nil)
}

// checkImports is CheckImports, with the imports of every interface
// linker knows checked by linker instead of against r (Instantiate defines
// their host modules afterwards).
func checkImports(compiled wazero.CompiledModule, r wazero.Runtime, linker *link.Linker) error {
	var missing, needRealloc []string
	var linkErrs []*link.LinkError
	for _, def := range compiled.ImportedFunctions() {
		modName, name, _ := def.Import()
		id := modName + "#" + name
		if linker != nil && linker.Knows(modName) {
			if err := linker.Check(modName, name, def.ParamTypes(), def.ResultTypes()); err != nil {
				var le *link.LinkError
				errors.As(err, &le)
				linkErrs = append(linkErrs, le)
				missing = append(missing, id+": "+le.Reason)
			} else if needsRealloc(modName, name) {
				needRealloc = append(needRealloc, id)
			}
			continue
		}
		host := r.Module(modName)
		if host == nil {
			missing = append(missing, id+" (no such module)")
			continue
		}
		hd, ok := host.ExportedFunctionDefinitions()[name]
		if !ok {
			missing = append(missing, id)
			continue
		}
		if !sameTypes(hd.ParamTypes(), def.ParamTypes()) || !sameTypes(hd.ResultTypes(), def.ResultTypes()) {
			missing = append(missing, fmt.Sprintf("%s (signature %s, provided %s)", id, signature(def), signature(hd)))
			continue
		}
		if needsRealloc(modName, name) {
			needRealloc = append(needRealloc, id)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return &MissingImportsError{Missing: missing, Link: linkErrs}
	}
	if len(needRealloc) > 0 {
		if _, ok := compiled.ExportedFunctions()["cabi_realloc"]; !ok {
			sort.Strings(needRealloc)
			return &MissingReallocError{Functions: needRealloc}
		}
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	return bytes.Equal(a, b)
}

func signature(def api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("(%s) -> (%s)", names(def.ParamTypes()), names(def.ResultTypes()))
}

// reallocFuncs are the WASI 0.2 functions served by this package whose
// results hold a string or a list, by interface (version stripped).
var reallocFuncs = map[string][]string{
	"wasi:io/error":            {"[method]error.to-debug-string"},
	"wasi:io/poll":             {"poll"},
	"wasi:io/streams":          {"[method]input-stream.read", "[method]input-stream.blocking-read"},
	"wasi:random/random":       {"get-random-bytes"},
	"wasi:random/insecure":     {"get-insecure-random-bytes"},
	"wasi:cli/environment":     {"get-environment", "get-arguments", "initial-cwd"},
	"wasi:sockets/udp":         {"[method]incoming-datagram-stream.receive"},
	"wasi:clocks/timezone":     {"display"},
	"wasi:filesystem/preopens": {"get-directories"},
	"wasi:filesystem/types": {"[method]descriptor.read", "[method]descriptor.readlink-at",
		"[method]directory-entry-stream.read-directory-entry"},
}

func needsRealloc(module, name string) bool {
	iface, _, _ := strings.Cut(module, "@")
	for _, f := range reallocFuncs[iface] {
		if f == name {
			return true
		}
	}
	return false
}
