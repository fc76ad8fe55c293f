package runtime

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/cabi"
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
