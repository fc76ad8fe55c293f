package runtime

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

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

func newComponentRuntime(t *testing.T) *Runtime {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := New(ctx, r, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func runHello(t *testing.T, args ...string) (stdout, stderr string, err error) {
	rt := newComponentRuntime(t)
	c := helloComponent(t)
	var out, errb bytes.Buffer
	inst, err := rt.InstantiateComponent(context.Background(), c, ModuleConfig{
		Args:   append([]string{"hello"}, args...),
		Env:    []string{"GREETING=hi there", "OTHER=x"},
		Stdout: &out, Stderr: &errb,
	})
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

// TestComponentFiles runs a C component against two --dir style
// preopens: it reads and lists the read-only one, writes to the other, and
// is refused a write to the read-only one and paths outside both.
func TestComponentFiles(t *testing.T) {
	b := cguest.Build(t, cguest.Spec{Sources: []string{"testdata/components/files.c"}, Adapter: cguest.Command})
	c, err := component.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ro, rw := filepath.Join(root, "ro"), filepath.Join(root, "rw")
	for _, d := range []string{ro, rw} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(ro, "in.txt"), []byte("hello from the host"), 0o644)
	os.WriteFile(filepath.Join(ro, "b.txt"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "outside.txt"), []byte("secret"), 0o644)

	rt := newComponentRuntime(t)
	var out, errb bytes.Buffer
	err = rt.RunComponent(context.Background(), c, ModuleConfig{
		Args:   []string{"files"},
		Stdout: &out, Stderr: &errb,
		Dirs: []Dir{{Host: ro, Guest: "/ro", ReadOnly: true}, {Host: rw, Guest: "/rw"}},
	})
	if err != nil {
		t.Fatalf("Run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	want := `read: hello from the host
list: b.txt
list: in.txt
write /rw/out.txt: ok
open /ro/new.txt w: refused
open /ro/../outside.txt r: refused
open /outside.txt r: refused
`
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if got, _ := os.ReadFile(filepath.Join(rw, "out.txt")); string(got) != "written by a component\n" {
		t.Errorf("rw/out.txt = %q", got)
	}
	if _, err := os.Stat(filepath.Join(ro, "new.txt")); err == nil {
		t.Error("the component created a file in the read-only preopen")
	}
}
