package link

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
)

var (
	i32 = []api.ValueType{api.ValueTypeI32}
	i64 = []api.ValueType{api.ValueTypeI64}
)

// fake makes an implementation whose functions push tag as their result.
func fake(iface, ver string, tag uint64, sigs map[string][2][]api.ValueType) Implementation {
	return Implementation{Interface: iface, Version: ver, Functions: func(module string) []cabi.HostFunc {
		var out []cabi.HostFunc
		for name, sig := range sigs {
			out = append(out, cabi.HostFunc{Name: name, Params: sig[0], Results: sig[1],
				Fn: func(_ context.Context, _ api.Module, stack []uint64) { stack[0] = tag }})
		}
		return out
	}}
}

func TestResolveNewestMatching(t *testing.T) {
	l, err := NewLinker(
		fake("t:p/i", "0.2.3", 3, map[string][2][]api.ValueType{"f": {i32, i64}, "old": {nil, i64}}),
		fake("t:p/i", "0.2.8", 8, map[string][2][]api.ValueType{"f": {i64, i64}, "g": {nil, i64}}),
		fake("t:p/i", "0.3.0", 30, map[string][2][]api.ValueType{"f": {i32, i64}}),
		fake("t:p/i", "0.2.0-draft", 99, map[string][2][]api.ValueType{"f": {i32, i64}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	tag := func(f cabi.HostFunc) uint64 {
		stack := []uint64{0}
		f.Fn(context.Background(), nil, stack)
		return stack[0]
	}
	for _, c := range []struct {
		module, name   string
		params, result []api.ValueType
		want           uint64
		err            string
	}{
		{"t:p/i@0.2.12", "f", i64, i64, 8, ""},
		{"t:p/i@0.2.1", "f", i32, i64, 3, ""}, // 0.2.8 changed the signature: 0.2.3 serves it
		{"t:p/i@0.2.0", "g", nil, i64, 8, ""},
		{"t:p/i@0.2.8", "old", nil, i64, 3, ""},
		{"t:p/i@0.3.1", "f", i32, i64, 30, ""},
		{"t:p/i@0.2.0-draft", "f", i32, i64, 99, ""},
		{"t:p/i@0.2.0-rc1", "f", i32, i64, 0, "no implemented version is compatible"},
		{"t:p/i@1.0.0", "f", i32, i64, 0, "no implemented version is compatible"},
		{"t:p/i@0.2.12", "h", nil, nil, 0, "up to 0.2.8, which has no such function"},
		{"t:p/i@0.2.12", "f", nil, nil, 0, "the guest imports it as () -> () but this host has (i64) -> (i64) in 0.2.8, (i32) -> (i64) in 0.2.3"},
		{"t:p/i@latest", "f", i32, i64, 0, `version "latest" is not a semantic version`},
		{"t:p/j@0.2.0", "f", i32, i64, 0, "does not implement t:p/j"},
	} {
		f, err := l.Resolve(c.module, c.name, c.params, c.result)
		if c.err != "" {
			var le *LinkError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), c.err) ||
				!strings.Contains(err.Error(), c.module+"#"+c.name) {
				t.Errorf("%s#%s: err = %v, want %q", c.module, c.name, err, c.err)
			}
			continue
		}
		if err != nil || tag(f) != c.want {
			t.Errorf("%s#%s: tag %d, err %v; want %d", c.module, c.name, tag(f), err, c.want)
		}
	}
}

func TestDefineShared(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	l, err := NewLinker(fake("t:p/i", "0.2.8", 8, map[string][2][]api.ValueType{"f": {nil, i64}, "g": {nil, i64}}))
	if err != nil {
		t.Fatal(err)
	}
	// A guest importing f at 0.2.12, and i at 0.2.1 which no guest imports.
	guest := []byte{0, 'a', 's', 'm', 1, 0, 0, 0,
		1, 5, 1, 0x60, 0, 1, 0x7e, // type 0: () -> i64
		2, 18, 1, 12, 't', ':', 'p', '/', 'i', '@', '0', '.', '2', '.', '1', '2', 1, 'f', 0, 0, // import t:p/i@0.2.12 f
	}
	compiled, err := r.CompileModule(ctx, guest)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := l.Define(ctx, r, compiled.ImportedFunctions()); err != nil {
			t.Fatal(err)
		}
	}
	host := r.Module("t:p/i@0.2.12")
	if host == nil {
		t.Fatal("t:p/i@0.2.12 not defined")
	}
	if _, ok := host.ExportedFunctionDefinitions()["g"]; !ok {
		t.Fatal("g not defined with f")
	}
	if r.Module("t:p/i@0.2.8") != nil || r.Module("t:p/i@0.2.0") != nil {
		t.Fatal("versions nobody imports were defined")
	}
	if _, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions()); err != nil {
		t.Fatal(err)
	}
}
