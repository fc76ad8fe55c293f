package runtime

import (
	"context"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/link"
)

// subprocessEnv names the test a child process of the test binary runs
// (see inSubprocess).
const subprocessEnv = "WASITLS_TEST_SUBPROCESS"

// inSubprocess runs the calling test alone in a child process of the test
// binary, unless this is that child, and fails the test when the child
// failed: a fault that kills the process fails the test rather than the
// whole binary. It reports whether this is the child, which runs the
// test's body.
func inSubprocess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(subprocessEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), subprocessEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the test in a child process: %v\n%s", err, out)
	}
	return false
}

// collectUntil collects garbage until done holds, for at most d, and
// reports whether it does.
func collectUntil(d time.Duration, done func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		goruntime.GC()
		if done() {
			return true
		}
	}
	return false
}

func (b *memoryBudget) isReleased() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.released
}

// failingStart is a module whose start section calls keeper.keep (or
// keeper.close, which closes the module) and then fails as end says:
// "trap" (unreachable), "exit" (proc_exit(3)) or "close" (keeper.close).
// Its memory is 16 pages.
func failingStart(end string) []byte {
	var m wasmbin.Module
	keep := m.ImportFunc("keeper", "keep", m.Type(nil, nil))
	closeFn := m.ImportFunc("keeper", "close", m.Type(nil, nil))
	procExit := m.ImportFunc("wasi_snapshot_preview1", "proc_exit", m.Type([]byte{wasmbin.I32}, nil))
	body := []byte{0x10, byte(keep)}
	switch end {
	case "trap":
		body = append(body, 0x00) // unreachable
	case "exit":
		body = wasmbin.Cat(body, wasmbin.I32Const(3), []byte{0x10, byte(procExit)})
	case "close":
		body = append(body, 0x10, byte(closeFn))
	}
	start := m.Func(m.Type(nil, nil), nil, body)
	m.Memory(16, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Start(start)
	return m.Bytes()
}

// failingEnds are the ends of failingStart.
var failingEnds = []string{"trap", "exit", "close"}

// A keeper is a checked Runtime with a host module keeper, whose keep
// keeps the calling module and the guest's memory budget, and whose
// close closes the calling module with exit code 4; starts are the
// failingStart modules, compiled, by end.
type keeper struct {
	rt     *Runtime
	kept   api.Module
	budget *memoryBudget
	starts map[string]wazero.CompiledModule
}

func newKeeper(t *testing.T) *keeper {
	ctx := context.Background()
	rt, r := newCheckedRuntime(t)
	k := &keeper{rt: rt, starts: map[string]wazero.CompiledModule{}}
	b := r.NewHostModuleBuilder("keeper")
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module) {
		k.kept, k.budget = m, GuestFrom(ctx).memory
	}).Export("keep")
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module) { m.CloseWithExitCode(ctx, 4) }).Export("close")
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, end := range failingEnds {
		compiled, err := r.CompileModule(ctx, failingStart(end))
		if err != nil {
			t.Fatal(err)
		}
		k.starts[end] = compiled
	}
	return k
}

// TestCallAfterFailedStartKeptModule: a host function of the embedder's,
// called from a module's start section, keeps the module's api.Module;
// the start section then traps, exits, or has a host function close the
// module, and the instantiation fails. The embedder reads the module's
// memory through the kept module afterwards, after closing it too. Before,
// the memory was unmapped as Instantiate returned the failure, the module
// still reachable: the read crashed the process (SIGSEGV, "unexpected
// fault address"), here the child process the test runs in.
func TestCallAfterFailedStartKeptModule(t *testing.T) {
	if !inSubprocess(t) {
		return
	}
	ctx := context.Background()
	k := newKeeper(t)
	for _, end := range failingEnds {
		for range 10 {
			k.kept = nil
			if _, err := k.rt.Instantiate(ctx, k.starts[end], ModuleConfig{}); err == nil {
				t.Fatalf("%s: Instantiate succeeded", end)
			}
			kept := k.kept
			if kept == nil {
				t.Fatalf("%s: the host function kept no module", end)
			}
			goruntime.GC() // the mapping, if released, is gone now
			if _, ok := kept.Memory().ReadByte(1); !ok {
				t.Fatalf("%s: the kept module's memory does not read", end)
			}
			kept.Close(ctx)
			goruntime.GC()
			if _, ok := kept.Memory().ReadByte(15 << 16); !ok {
				t.Fatalf("%s: the kept module's memory does not read once closed", end)
			}
		}
	}
}

// TestFailedStartKeptModuleMemoryReleased: the memory of a module whose
// instantiation failed, which stays mapped while a host function of the
// embedder's keeps the module, is released once nothing reaches it,
// though the embedder still holds the module's api.Memory until then.
func TestFailedStartKeptModuleMemoryReleased(t *testing.T) {
	ctx := context.Background()
	k := newKeeper(t)
	for _, end := range failingEnds {
		k.kept, k.budget = nil, nil
		if _, err := k.rt.Instantiate(ctx, k.starts[end], ModuleConfig{Name: "failing-" + end}); err == nil {
			t.Fatalf("%s: Instantiate succeeded", end)
		}
		kept, budget := k.kept, k.budget
		k.kept = nil
		if kept.Name() != "failing-"+end {
			t.Fatalf("%s: the module is named %q", end, kept.Name())
		}
		mem := kept.Memory()
		kept = nil
		if collectUntil(time.Second, budget.isReleased) {
			t.Fatalf("%s: the memory was released while the embedder holds the module's api.Memory", end)
		}
		if _, ok := mem.ReadByte(1); !ok {
			t.Fatalf("%s: the memory does not read", end)
		}
		mem = nil
		if !collectUntil(10*time.Second, budget.isReleased) {
			t.Fatalf("%s: the memory is still mapped once nothing reaches the module", end)
		}
	}
}

// keepHost serves example:keep/host: its keep keeps the memory option
// of the call, the calling core module's memory, and the guest's memory
// budget.
type keepHost struct {
	kept   api.Memory
	budget *memoryBudget
}

func (*keepHost) Register(context.Context, wazero.Runtime) error { return nil }

func (h *keepHost) Implementations() []link.Implementation {
	i32 := []api.ValueType{api.ValueTypeI32}
	return []link.Implementation{{
		Interface: "example:keep/host", Version: "0.1.0",
		Functions: func(string) []cabi.HostFunc {
			return []cabi.HostFunc{{Name: "keep", Params: append(i32, i32...), Fn: func(ctx context.Context, m api.Module, _ []uint64) {
				h.kept, h.budget = m.(*cabi.Lowered).Options().Memory, GuestFrom(ctx).memory
			}}}
		},
	}}
}

// runKeep runs the keep component (RunComponent) on a runtime serving a
// keepHost: it returns the memory the host function kept and the guest's
// memory budget.
func runKeep(t *testing.T) (api.Memory, *memoryBudget) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	host := &keepHost{}
	rt, err := New(ctx, r, Config{Extensions: []Extension{host}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := component.Parse(cguest.Build(t, cguest.Spec{
		Sources: []string{"testdata/components/keep/keep.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry"},
		WIT:     "testdata/components/keep/keep.wit", World: "keep",
		WITDeps: cguest.WITDeps("io", "clocks", "sockets", "cli", "filesystem", "random"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.RunComponent(ctx, c, ModuleConfig{}); err != nil {
		t.Fatalf("RunComponent: %v", err)
	}
	if host.kept == nil {
		t.Fatal("the host function kept no memory")
	}
	return host.kept, host.budget
}

// TestComponentMemoryKeptAfterRun: a host function of the embedder's
// keeps the memory of the component's core module that called it (its
// call's memory option, the core module's api.Memory), and reads it once
// RunComponent returned. Before, the memories were unmapped as
// RunComponent returned (and once the component.Instance was garbage),
// the memory still reachable: the read crashed the process (SIGSEGV,
// "unexpected fault address"), here the child process the test runs in.
func TestComponentMemoryKeptAfterRun(t *testing.T) {
	if !inSubprocess(t) {
		return
	}
	kept, budget := runKeep(t)
	collectUntil(time.Second, budget.isReleased) // the ComponentInstance is garbage
	if _, ok := kept.ReadByte(0); !ok {
		t.Fatal("the kept memory does not read")
	}
}

// TestComponentMemoryKeptReleased: the memories of a component run,
// which stay mapped while a host function of the embedder's keeps one of
// them, are released once nothing reaches any.
func TestComponentMemoryKeptReleased(t *testing.T) {
	kept, budget := runKeep(t)
	if collectUntil(time.Second, budget.isReleased) {
		t.Fatal("the memories were released while the embedder holds one")
	}
	if _, ok := kept.ReadByte(0); !ok {
		t.Fatal("the kept memory does not read")
	}
	kept = nil
	if !collectUntil(10*time.Second, budget.isReleased) {
		t.Fatal("the memories are still mapped once nothing reaches the component's core modules")
	}
}
