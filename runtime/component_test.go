package runtime

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime/component"
)

// helloComponent is testdata/components/hello.c as a command component:
// clang and wasi-libc, then `jco new --wasi-command` (the preview1 adapter:
// a main module, the adapter module, an indirect-call shim and a fixup
// module, imports at WASI 0.2.12).
func helloComponent(t *testing.T) *component.Component {
	b := cguest.Build(t, cguest.Spec{Sources: []string{"testdata/components/hello.c"}, Adapter: cguest.Command})
	c, err := component.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withoutFilesystem serves wasi:filesystem as a host with no preopens
// while the runtime has no wasi:filesystem of its own: the preview1
// adapter imports it even for a program that opens no file.
type withoutFilesystem struct{ component.Linker }

func (l withoutFilesystem) Resolve(module, name string, params, results []api.ValueType) (cabi.HostFunc, error) {
	if !strings.HasPrefix(module, "wasi:filesystem/") {
		return l.Linker.Resolve(module, name, params, results)
	}
	fn := func(ctx context.Context, mod api.Module, stack []uint64) {
		call := cabi.Begin(ctx, mod, module+"#"+name)
		defer call.End()
		if name != "get-directories" {
			call.Trapf("wasi:filesystem is not served")
		}
		call.PutU32(uint32(stack[0]), 0)
		call.PutU32(uint32(stack[0])+4, 0)
	}
	return cabi.HostFunc{Name: name, Fn: fn, Params: params, Results: results}, nil
}

func newComponentRuntime(t *testing.T) (*Runtime, component.Linker) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := New(ctx, r, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var l component.Linker = rt.linker
	if !rt.linker.Knows("wasi:filesystem/preopens@0.2.0") {
		l = withoutFilesystem{l}
	}
	return rt, l
}

func runHello(t *testing.T, args ...string) (stdout, stderr string, err error) {
	rt, l := newComponentRuntime(t)
	c := helloComponent(t)
	var out, errb bytes.Buffer
	inst, err := rt.instantiateComponent(context.Background(), c, ModuleConfig{
		Args:   append([]string{"hello"}, args...),
		Env:    []string{"GREETING=hi there", "OTHER=x"},
		Stdout: &out, Stderr: &errb,
	}, l)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(context.Background())
	err = inst.Run()
	return out.String(), errb.String(), err
}

// TestComponentCommand runs a C command component: arguments, environment,
// stdout and stderr go through WASI 0.2.12 imports bound to the 0.2
// implementation, with the adapter's own cabi_import_realloc.
func TestComponentCommand(t *testing.T) {
	stdout, stderr, err := runHello(t, "a b", "0")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := "arg 0: hello\narg 1: a b\narg 2: 0\nGREETING=hi there\n"
	if stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if stderr != "to stderr\n" {
		t.Errorf("stderr = %q", stderr)
	}
}

// TestComponentCommandExit checks the exit code: the preview1 adapter
// turns a nonzero exit into wasi:cli/exit's err, exit code 1.
func TestComponentCommandExit(t *testing.T) {
	_, _, err := runHello(t, "7")
	var ee *sys.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("Run = %v, want exit code 1", err)
	}
}
