package runtime

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// TestGuardPreview1: a Go runtime error in a wasi_snapshot_preview1
// function becomes a panic with an error naming the function and the
// fault, the instance marked trapped, or, for a function of nosysPanics,
// its errno, or, under a module closed meanwhile, the close's exit; an
// exit passes unchanged, as does a call that returns.
func TestGuardPreview1(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	empty := []byte("\x00asm\x01\x00\x00\x00")
	var mods [2]api.Module
	for i := range mods {
		m, err := r.InstantiateWithConfig(ctx, empty, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		mods[i] = m
	}
	open, closed := mods[0], mods[1]
	closed.Close(ctx)

	outOfRange := api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
		var s []byte
		stack[0] = uint64(s[stack[1]])
	})
	mod := open
	call := func(name string, fn api.GoModuleFunction, stack []uint64) (inst *cabi.Instance, v any) {
		inst = cabi.NewInstance()
		defer func() { v = recover() }()
		guardPreview1(name, fn).Call(cabi.WithInstance(ctx, inst), mod, stack)
		return inst, nil
	}

	inst, v := call("fd_read", outOfRange, []uint64{0, 8})
	err, _ := v.(error)
	if err == nil || !strings.Contains(err.Error(), "wasi_snapshot_preview1.fd_read faulted in wazero: runtime error: index out of range") ||
		strings.Contains(err.Error(), "goroutine") {
		t.Errorf("fault: %v", v)
	}
	if !inst.Trapped() {
		t.Error("fault: the instance is not marked trapped")
	}

	stack := []uint64{0, 8}
	if inst, v := call("fd_filestat_set_times", outOfRange, stack); v != nil || stack[0] != errnoNosys || inst.Trapped() {
		t.Errorf("fd_filestat_set_times: %v, errno %d, trapped %v", v, stack[0], inst.Trapped())
	}

	exit := api.GoModuleFunc(func(context.Context, api.Module, []uint64) { panic(sys.NewExitError(3)) })
	if inst, v := call("proc_exit", exit, []uint64{3}); inst.Trapped() {
		t.Error("exit: the instance is marked trapped")
	} else if ee, ok := v.(*sys.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("exit: %v", v)
	}

	mod = closed
	if inst, v := call("args_get", outOfRange, []uint64{0, 8}); inst.Trapped() {
		t.Error("closed: the instance is marked trapped")
	} else if ee, ok := v.(*sys.ExitError); !ok || ee.ExitCode() != sys.ExitCodeContextCanceled {
		t.Errorf("closed: %v", v)
	}
	mod = open

	ok := api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) { stack[0] = 5 })
	stack = []uint64{0}
	if inst, v := call("random_get", ok, stack); v != nil || stack[0] != 5 || inst.Trapped() {
		t.Errorf("return: %v, errno %d", v, stack[0])
	}
}

// TestNewRefusesForeignPreview1: New refuses a wazero runtime that already
// has a wasi_snapshot_preview1 it did not register, wazero's own or a
// host module of that name, with an error that says what to do instead;
// the one New registers is guarded, another New on the same runtime
// shares it, and a module instantiated with wazero itself uses it.
func TestNewRefusesForeignPreview1(t *testing.T) {
	ctx := context.Background()
	foreign := map[string]func(wazero.Runtime) error{
		"wazero's": func(r wazero.Runtime) error {
			_, err := wasi_snapshot_preview1.Instantiate(ctx, r)
			return err
		},
		"a host module of that name": func(r wazero.Runtime) error {
			_, err := r.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName).NewFunctionBuilder().
				WithFunc(func(uint32) {}).Export("proc_exit").Instantiate(ctx)
			return err
		},
	}
	for name, register := range foreign {
		t.Run(name, func(t *testing.T) {
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			if err := register(r); err != nil {
				t.Fatal(err)
			}
			_, err := New(ctx, r, Config{})
			if err == nil {
				t.Fatal("New accepted a runtime whose wasi_snapshot_preview1 it did not register")
			}
			for _, want := range []string{"already has a wasi_snapshot_preview1", "leave that call out", "runtime.ModuleConfig", "Configure"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
		})
	}
	t.Run("its own, twice", func(t *testing.T) {
		r := wazero.NewRuntime(ctx)
		defer r.Close(ctx)
		for range 2 {
			if _, err := New(ctx, r, Config{}); err != nil {
				t.Fatal(err)
			}
		}
		m := r.Module(wasi_snapshot_preview1.ModuleName)
		if m == nil || !isGuardedPreview1(m) {
			t.Fatal("the wasi_snapshot_preview1 New registered is not guarded")
		}
		if n := len(m.ExportedFunctionDefinitions()); n < 40 {
			t.Fatalf("the guarded wasi_snapshot_preview1 exports %d functions, want wazero's (over 40)", n)
		}

		// A module the program instantiates with wazero itself, not
		// through a Runtime, gets the guarded one as it got wazero's:
		// args_sizes_get reads its wazero.ModuleConfig's arguments.
		const i32 = api.ValueTypeI32
		var w wasmbin.Module
		sizes := w.ImportFunc(wasi_snapshot_preview1.ModuleName, "args_sizes_get", w.Type([]byte{i32, i32}, []byte{i32}))
		w.Memory(1, 1)
		w.Export("memory", wasmbin.ExportMemory, 0)
		w.Export("run", wasmbin.ExportFunc, w.Func(w.Type(nil, []byte{i32}), nil,
			wasmbin.Cat(wasmbin.I32Const(0), wasmbin.I32Const(4), []byte{0x10}, wasmbin.ULEB(uint64(sizes)))))
		mod, err := r.InstantiateWithConfig(ctx, w.Bytes(), wazero.NewModuleConfig().WithArgs("plain", "wazero", "module"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := mod.ExportedFunction("run").Call(ctx)
		if err != nil || res[0] != 0 {
			t.Fatalf("args_sizes_get = %v, %v; want errno 0", res, err)
		}
		if argc, ok := mod.Memory().ReadUint32Le(0); !ok || argc != 3 {
			t.Fatalf("argc = %d, want 3", argc)
		}
	})
}
