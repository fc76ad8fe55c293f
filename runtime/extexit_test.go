package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
)

// exitExtension registers "env" "exit", an embedder's exit function made
// as wazero's proc_exit is: it closes the calling module with the code
// and unwinds the guest with the *sys.ExitError.
var exitExtension = runtime.ExtensionFunc(func(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, mod api.Module, code uint32) {
		mod.CloseWithExitCode(ctx, code)
		panic(sys.NewExitError(code))
	}).Export("exit").
		Instantiate(ctx)
	return err
})

// exitCommand is a command whose _start calls env.exit(code), code below
// 64 (one byte of signed LEB128).
func exitCommand(code uint32) []byte {
	var m wasmbin.Module
	exitType := m.Type([]byte{wasmbin.I32}, nil)
	m.ImportFunc("env", "exit", exitType)
	start := m.Func(m.Type(nil, nil), nil, []byte{0x41, byte(code), 0x10, 0x00})
	m.Export("_start", wasmbin.ExportFunc, start)
	return m.Bytes()
}

// TestExtensionExitKeepsCode: a guest that exits through an embedder's
// host function closing its module (as wazero's proc_exit does) exits
// with its code: the runtime takes that close on the guest's own
// call for the exit it is, not for a close of the wazero runtime or the
// module from outside, which stops the guest (TestWazeroCloseStopsGuests).
func TestExtensionExitKeepsCode(t *testing.T) {
	ctx := context.Background()
	for _, p := range corePaths {
		t.Run(p.name, func(t *testing.T) {
			r := wazero.NewRuntimeWithConfig(ctx, p.wcfg.WithCompilationCache(cache))
			defer r.Close(ctx)
			rt, err := runtime.New(ctx, r, runtime.Config{StopFlag: p.stop, Extensions: []runtime.Extension{exitExtension}})
			if err != nil {
				t.Fatal(err)
			}
			for _, code := range []uint32{0, 3} {
				compiled, err := p.compile(ctx, r, exitCommand(code), runtime.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				_, err = rt.Instantiate(ctx, compiled, runtime.ModuleConfig{})
				var ee *sys.ExitError
				switch {
				case code == 0 && err != nil:
					t.Errorf("exit(0): err = %v, want nil", err)
				case code != 0 && (!errors.As(err, &ee) || ee.ExitCode() != code):
					t.Errorf("exit(%d): err = %v, want the exit with code %d", code, err, code)
				}
			}
		})
	}
}
