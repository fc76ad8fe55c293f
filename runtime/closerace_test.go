package runtime_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime"
)

// randomImporter is a module importing a function of wasi:random, whose
// host module Instantiate defines (compiles) on its first guest.
func randomImporter() []byte {
	var m wasmbin.Module
	m.ImportFunc("wasi:random/random@0.2.0", "get-random-u64", m.Type(nil, []byte{i64}))
	m.Memory(1, 1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	return m.Bytes()
}

// TestWazeroCloseDuringSetup: the embedder's Close of the wazero.Runtime
// while another goroutine compiles a guest (CompileModule) or
// instantiates one (Instantiate, which defines the host modules its
// imports need) makes those fail with an error, never a panic. wazero's
// store drops its function type table on Close, and a compilation in
// progress that reaches it after (wazero checks for a closed runtime
// only on entry, and not at all in its host module builder) panicked
// with "assignment to entry in nil map" on the embedder's goroutine.
func TestWazeroCloseDuringSetup(t *testing.T) {
	ctx := context.Background()
	wasm := randomImporter()
	for i := 0; i < 200; i++ {
		r := wazero.NewRuntimeWithConfig(ctx, runtime.NewRuntimeConfig())
		rt, err := runtime.New(ctx, r, runtime.Config{})
		if err != nil {
			t.Fatal(err)
		}
		compiled, err := r.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		panics := make(chan any, 2)
		run := func(f func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if v := recover(); v != nil {
						panics <- v
					}
				}()
				f()
			}()
		}
		start := make(chan struct{})
		run(func() {
			<-start
			if inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{}); err == nil {
				inst.Close(ctx)
			}
		})
		run(func() {
			<-start
			if c, err := runtime.CompileModuleChecked(ctx, r, wasm, runtime.Limits{}); err == nil {
				c.Close(ctx)
			}
		})
		close(start)
		r.Close(ctx)
		wg.Wait()
		close(panics)
		for v := range panics {
			t.Fatalf("round %d: a compilation or instantiation racing the runtime's Close panicked: %v", i, v)
		}
	}
}

// TestWazeroCloseRacesGuestClose: a guest sleeping in a host call (or
// just starting), closed by Instance.Close and by the wazero.Runtime's
// Close at once, from two goroutines, at varying offsets, on both core
// paths (the stop flag, wazero's checks): Instantiate returns, nothing
// panics, and a later Close of either is nil. Before, a close that came
// between the Started hook and _start closed the module, and _start ran
// the guest on it all the same (wazero's compiled code does not check on
// entry): its wasi_snapshot_preview1 calls read the system context
// wazero's close cleared, a data race -race reported in a few rounds.
func TestWazeroCloseRacesGuestClose(t *testing.T) {
	wasm := guestbuild.MustBuild(t, "./testdata/hog")
	for _, p := range corePaths {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			for i := 0; i < 20; i++ {
				r, rt := testRuntime(t, p.wcfg, runtime.Config{StopFlag: p.stop})
				compiled, err := p.compile(ctx, r, wasm, runtime.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				started := make(chan *runtime.Instance, 1)
				done := make(chan error, 1)
				go func() {
					_, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Args: []string{"hog", "sleep", "60"},
						Started: func(inst *runtime.Instance) { started <- inst }})
					done <- err
				}()
				inst := <-started
				time.Sleep(time.Duration(i%5) * time.Millisecond)
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					inst.Close(ctx)
				}()
				r.Close(ctx)
				wg.Wait()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					t.Fatalf("round %d: the guest did not return after both closes", i)
				}
				if err := inst.Close(ctx); err != nil {
					t.Errorf("round %d: a second Instance.Close: %v", i, err)
				}
				if err := r.Close(ctx); err != nil {
					t.Errorf("round %d: a second Close: %v", i, err)
				}
			}
		})
	}
}
