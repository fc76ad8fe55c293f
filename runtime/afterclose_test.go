package runtime

import (
	"context"
	"errors"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/wasmbin"
)

// peekCommand is a command whose _start exits with code (0: returns),
// exporting peek, which loads the i32 at address 0 of its memory.
func peekCommand(code int) []byte {
	var m wasmbin.Module
	procExit := m.ImportFunc("wasi_snapshot_preview1", "proc_exit", m.Type([]byte{wasmbin.I32}, nil))
	var body []byte
	if code != 0 {
		body = wasmbin.Cat(wasmbin.I32Const(int32(code)), []byte{0x10, byte(procExit)}) // call proc_exit
	}
	start := m.Func(m.Type(nil, nil), nil, body)
	peek := m.Func(m.Type(nil, []byte{wasmbin.I32}), nil, wasmbin.Cat(wasmbin.I32Const(0), []byte{0x28, 0x02, 0x00})) // i32.load
	m.Memory(1, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export("_start", wasmbin.ExportFunc, start)
	m.Export("peek", wasmbin.ExportFunc, peek)
	return m.Bytes()
}

// newCheckedRuntime is a Runtime of a wazero.Runtime NewRuntimeConfig
// configured, closed when the test ends.
func newCheckedRuntime(t *testing.T) (*Runtime, wazero.Runtime) {
	return newTestRuntime(t, NewRuntimeConfig(), Config{})
}

// TestCallAfterCommandReturned: the embedder holds a command's instance
// once its _start returned (Instantiate's result, or the Started hook's
// argument when it exited with another code): a call of its exports
// through wazero, which nothing refuses, ends as a call into a closed
// module, and Instance.Call refuses it. Before, the guest's memory was
// unmapped when _start returned, and the call's first load crashed the
// process (SIGSEGV, "unexpected fault address").
func TestCallAfterCommandReturned(t *testing.T) {
	ctx := context.Background()
	rt, r := newCheckedRuntime(t)
	for _, code := range []int{0, 3} {
		compiled, err := r.CompileModule(ctx, peekCommand(code))
		if err != nil {
			t.Fatal(err)
		}
		var held *Instance
		inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{Started: func(i *Instance) { held = i }})
		var exit *sys.ExitError
		switch {
		case code == 0 && (err != nil || inst != held):
			t.Fatalf("Instantiate = %v, %v", inst, err)
		case code != 0 && (!errors.As(err, &exit) || exit.ExitCode() != uint32(code)):
			t.Fatalf("Instantiate = %v, want the exit with code %d", err, code)
		}
		res, err := held.Module().ExportedFunction("peek").Call(context.Background())
		if err == nil && (len(res) != 1 || res[0] != 0) {
			t.Errorf("exit %d: peek through wazero = %v, want an error or the zero the memory reads as", code, res)
		}
		if _, err := held.Call("peek"); !errors.Is(err, ErrClosed) {
			t.Errorf("exit %d: Instance.Call(peek) = %v, want ErrClosed", code, err)
		}
	}
}

// TestReturnedInstanceMemoryReleased: the memory of a command whose
// _start returned, or of a reactor closed, which stays mapped while the
// embedder can call the instance through wazero, is released once nothing
// reaches the instance. Before, it never was: the finalizer that was to
// release it was on the module instance, which is in a cycle (its close
// notifier reaches the Instance, which holds it), so an embedder running
// commands kept a mapping (a reservation of up to 4 GiB) per command run.
func TestReturnedInstanceMemoryReleased(t *testing.T) {
	ctx := context.Background()
	rt, r := newCheckedRuntime(t)
	var reactor wasmbin.Module
	reactor.Memory(1, -1)
	reactor.Export("memory", wasmbin.ExportMemory, 0)
	for _, tc := range []struct {
		name string
		b    []byte
	}{{"exit 0", peekCommand(0)}, {"exit 3", peekCommand(3)}, {"reactor", reactor.Bytes()}} {
		compiled, err := r.CompileModule(ctx, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		var budget *memoryBudget
		func() {
			var held *Instance
			inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{Started: func(i *Instance) { held = i }})
			if err == nil {
				inst.Close(ctx)
			}
			budget = held.memory
		}()
		released := func() bool {
			budget.mu.Lock()
			defer budget.mu.Unlock()
			return budget.released
		}
		for deadline := time.Now().Add(10 * time.Second); !released(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the memory is still mapped once nothing reaches the instance", tc.name)
			}
			goruntime.GC()
		}
	}
}

// TestCallAfterFailedCommandKeptModule: a host function of the embedder's
// keeps the api.Module of the guest that calls it (a careless embedder,
// an extension answering later); the guest, a command, exits with code 3
// and no Started hook. A call of its exports through the kept module
// afterwards, which nothing refuses, ends as a call into a closed module,
// and the embedder reads the module's memory, the guest's own, mapped
// still. Before, the memory was unmapped as Instantiate returned the
// exit, the module still reachable: the read crashed the process
// (SIGSEGV, "unexpected fault address"), or, with the range mapped again
// by then (another guest's memory), read another's.
func TestCallAfterFailedCommandKeptModule(t *testing.T) {
	ctx := context.Background()
	rt, r := newCheckedRuntime(t)
	var kept api.Module
	if _, err := r.NewHostModuleBuilder("keeper").NewFunctionBuilder().
		WithFunc(func(_ context.Context, m api.Module) { kept = m }).Export("keep").Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	var m wasmbin.Module
	keep := m.ImportFunc("keeper", "keep", m.Type(nil, nil))
	procExit := m.ImportFunc("wasi_snapshot_preview1", "proc_exit", m.Type([]byte{wasmbin.I32}, nil))
	start := m.Func(m.Type(nil, nil), nil, wasmbin.Cat([]byte{0x10, byte(keep)}, wasmbin.I32Const(3), []byte{0x10, byte(procExit)}))
	// poke stores 1 in each 64 KiB page of the 16 the memory has.
	poke := m.Func(m.Type(nil, nil), []byte{1, 1, wasmbin.I32}, wasmbin.Cat(
		[]byte{0x02, 0x40, 0x03, 0x40},                                 // block, loop
		[]byte{0x20, 0}, wasmbin.I32Const(1), []byte{0x36, 0x02, 0x00}, // i32.store (local 0) 1
		[]byte{0x20, 0}, wasmbin.I32Const(1<<16), []byte{0x6a, 0x22, 0}, // local 0 += 64 KiB (tee)
		wasmbin.I32Const(16<<16), []byte{0x49, 0x0d, 0}, // br_if loop while below 1 MiB (i32.lt_u)
		[]byte{0x0b, 0x0b}, // end loop, end block
	))
	m.Memory(16, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export("_start", wasmbin.ExportFunc, start)
	m.Export("poke", wasmbin.ExportFunc, poke)
	compiled, err := r.CompileModule(ctx, m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		kept = nil
		var exit *sys.ExitError
		if _, err := rt.Instantiate(ctx, compiled, ModuleConfig{}); !errors.As(err, &exit) || exit.ExitCode() != 3 {
			t.Fatalf("Instantiate = %v, want the exit with code 3", err)
		}
		if kept == nil {
			t.Fatal("the host function kept no module")
		}
		goruntime.GC()                                           // the mapping, if released, is gone now
		kept.ExportedFunction("poke").Call(context.Background()) // an error: the module is closed
		if _, ok := kept.Memory().ReadByte(1 << 16); !ok {
			t.Fatal("the kept module's memory does not read")
		}
	}
}
