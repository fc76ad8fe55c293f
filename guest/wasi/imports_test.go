//go:build !wasip1

package wasi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"go.bytecodealliance.org/wit"

	"github.com/wasitls/wasitls/guest/wasi/internal/witabi"
	"github.com/wasitls/wasitls/internal/guestbuild"
)

// bound lists the interfaces the bindings cover completely.
var bound = []string{
	"wasi:io/error@0.2.8", "wasi:io/poll@0.2.8", "wasi:io/streams@0.2.8",
	"wasi:clocks/monotonic-clock@0.2.8", "wasi:clocks/wall-clock@0.2.8",
	"wasi:sockets/network@0.2.8", "wasi:sockets/instance-network@0.2.8",
	"wasi:sockets/tcp-create-socket@0.2.8", "wasi:sockets/tcp@0.2.8",
	"wasi:sockets/ip-name-lookup@0.2.8",
	"wasi:sockets/udp-create-socket@0.2.8", "wasi:sockets/udp@0.2.8",
	"wasi:tls/tls@0.2.0-pr104", "wasi:tls/types@0.2.0-draft",
	"wasitls:tls/extensions@0.1.0", "wasitls:tls/extensions@0.2.0",
	"wasitls:tls/extensions@0.3.0",
}

// importedFromOlder maps an interface version to older ones: the
// bindings import from the oldest version that has it each function an
// older one already had, so a guest using only those runs on hosts that
// serve only the older one.
var importedFromOlder = map[string][]string{
	"wasitls:tls/extensions@0.2.0": {"wasitls:tls/extensions@0.1.0"},
	"wasitls:tls/extensions@0.3.0": {"wasitls:tls/extensions@0.1.0", "wasitls:tls/extensions@0.2.0"},
}

// inOlder reports whether an older version of mod has the function name.
func inOlder(t *testing.T, r *wit.Resolve, mod, name string) bool {
	for _, older := range importedFromOlder[mod] {
		if witabi.Interface(t, r, older).Functions.Get(name) != nil {
			return true
		}
	}
	return false
}

// TestImports builds a guest referencing every binding and checks that it
// imports every function and resource drop of the bound interfaces, each with
// the core signature the Canonical ABI gives it, and nothing else besides
// wasi_snapshot_preview1.
func TestImports(t *testing.T) {
	wasm := guestbuild.MustBuild(t, "./testdata/allimports")
	r := witabi.Load(t)

	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]api.FunctionDefinition{}
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		if mod == "wasi_snapshot_preview1" {
			continue
		}
		if !slices.Contains(bound, mod) {
			t.Errorf("unexpected import module %s (%s)", mod, name)
			continue
		}
		got[mod+"#"+name] = d
	}

	want := 0
	for _, mod := range bound {
		iface := witabi.Interface(t, r, mod)
		for name, f := range iface.Functions.All() {
			if inOlder(t, r, mod, name) {
				continue // imported from the older version, which the host serves too
			}
			want++
			d, ok := got[mod+"#"+name]
			if !ok {
				t.Errorf("missing import %s#%s", mod, name)
				continue
			}
			params, results := witabi.CoreSignature(f)
			checkSig(t, mod+"#"+name, d, params, results)
		}
		for name, td := range iface.TypeDefs.All() {
			if _, ok := td.Kind.(*wit.Resource); !ok {
				continue
			}
			want++
			key := mod + "#[resource-drop]" + name
			d, ok := got[key]
			if !ok {
				t.Errorf("missing import %s", key)
				continue
			}
			checkSig(t, key, d, []string{"i32"}, nil)
		}
	}
	if len(got) != want {
		t.Errorf("module imports %d functions of the bound interfaces, WIT has %d", len(got), want)
	}
	if want < 130 {
		t.Errorf("only %d functions checked", want)
	}
	tls := 0
	for k := range got {
		if strings.HasPrefix(k, "wasi:tls/tls@0.2.0-pr104#") && !strings.Contains(k, "[resource-drop]") {
			tls++
		}
	}
	if tls != 43 {
		t.Errorf("wasi:tls/tls: %d functions imported, want 43", tls)
	}
	exports := cm.ExportedFunctions()
	if d, ok := exports["cabi_realloc"]; !ok {
		t.Error("guest does not export cabi_realloc")
	} else {
		checkSig(t, "cabi_realloc", d, []string{"i32", "i32", "i32", "i32"}, []string{"i32"})
	}
}

func checkSig(t *testing.T, name string, d api.FunctionDefinition, params, results []string) {
	t.Helper()
	gp, gr := names(d.ParamTypes()), names(d.ResultTypes())
	if !slices.Equal(gp, params) || !slices.Equal(gr, results) {
		t.Errorf("%s: guest imports (%v) -> (%v), Canonical ABI says (%v) -> (%v)", name, gp, gr, params, results)
	}
}

func names(ts []api.ValueType) []string {
	var out []string
	for _, v := range ts {
		out = append(out, fmt.Sprint(api.ValueTypeName(v)))
	}
	return out
}
