package runtime_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/runtime"
)

// TestInstantiateOtherRuntimesModule: a module compiled by one
// wazero.Runtime and instantiated through a Runtime over another, which
// shares no compilation cache with the first, is refused with an error
// that says so. Before, the error was wazero's alone: "source module must
// be compiled before instantiation", of a module that was. Over runtimes
// that share a cache, the module instantiates.
func TestInstantiateOtherRuntimesModule(t *testing.T) {
	ctx := context.Background()
	for _, p := range corePaths {
		t.Run(p.name, func(t *testing.T) {
			for _, shared := range []bool{false, true} {
				cfg := p.wcfg
				if shared {
					cfg = cfg.WithCompilationCache(wazero.NewCompilationCache())
				}
				r1, r2 := wazero.NewRuntimeWithConfig(ctx, cfg), wazero.NewRuntimeWithConfig(ctx, cfg)
				defer r1.Close(ctx)
				defer r2.Close(ctx)
				rt2, err := runtime.New(ctx, r2, runtime.Config{StopFlag: p.stop})
				if err != nil {
					t.Fatal(err)
				}
				compiled, err := p.compile(ctx, r1, spinReactor(), runtime.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				inst, err := rt2.Instantiate(ctx, compiled, runtime.ModuleConfig{})
				switch {
				case shared && err != nil:
					t.Errorf("over a shared cache: %v", err)
				case shared:
					inst.Close(ctx)
				case err == nil || !strings.Contains(err.Error(), "compiled by another wazero.Runtime"):
					t.Errorf("err = %v, want it to say the module was compiled by another wazero.Runtime", err)
				}
			}
		})
	}
}
