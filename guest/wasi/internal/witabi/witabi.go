//go:build !wasip1

// Package witabi loads the project's WIT on the host and answers the
// Canonical ABI question the guest bindings' import test asks, through
// go.bytecodealliance.org/wit rather than the generator that wrote the
// bindings: the core wasm signature an import must have.
package witabi

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.bytecodealliance.org/wit"
)

var (
	once    sync.Once
	resolve *wit.Resolve
	loadErr error
)

// Load returns the resolved WIT of the module's wit/ directory.
func Load(t testing.TB) *wit.Resolve {
	t.Helper()
	once.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			loadErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				loadErr = fmt.Errorf("witabi: no go.mod above the working directory")
				return
			}
			dir = parent
		}
		resolve, loadErr = wit.LoadWIT(filepath.Join(dir, "wit"))
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return resolve
}

// Interface returns the interface named like an import module,
// "wasi:io/streams@0.2.8".
func Interface(t testing.TB, r *wit.Resolve, module string) *wit.Interface {
	t.Helper()
	for _, i := range r.Interfaces {
		if i.Name == nil {
			continue
		}
		p := i.Package.Name
		name := p.Namespace + ":" + p.Package + "/" + *i.Name
		if p.Version != nil {
			name += "@" + p.Version.String()
		}
		if name == module {
			return i
		}
	}
	t.Fatalf("witabi: no interface %s", module)
	return nil
}

// CoreSignature returns the core wasm parameter and result types of an
// imported function, by the Canonical ABI's flattening for lowering: "i32",
// "i64", "f32", "f64".
func CoreSignature(f *wit.Function) (params, results []string) {
	cf := f.CoreFunction(wit.Imported)
	for _, p := range cf.Params {
		params = append(params, coreType(p.Type))
	}
	for _, r := range cf.Results {
		results = append(results, coreType(r.Type))
	}
	return params, results
}

func coreType(t wit.Type) string {
	switch t.(type) {
	case wit.U64, wit.S64:
		return "i64"
	case wit.F32:
		return "f32"
	case wit.F64:
		return "f64"
	}
	return "i32"
}
