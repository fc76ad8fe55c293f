package runtime

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/wasmbin"
)

// randReactor is a reactor importing wasi_snapshot_preview1's random_get:
// rand() fills 8 bytes of its memory and returns the errno.
func randReactor() []byte {
	var m wasmbin.Module
	i32 := []byte{wasmbin.I32}
	randomGet := m.ImportFunc("wasi_snapshot_preview1", "random_get", m.Type([]byte{wasmbin.I32, wasmbin.I32}, i32))
	rand := m.Func(m.Type(nil, i32), nil, wasmbin.Cat(wasmbin.I32Const(0), wasmbin.I32Const(8), []byte{0x10, byte(randomGet)}))
	m.Memory(1, -1)
	m.Export("memory", wasmbin.ExportMemory, 0)
	m.Export("rand", wasmbin.ExportFunc, rand)
	return m.Bytes()
}

// panickyRand is a random source whose reads panic with a value that is
// neither a trap nor a Go runtime error: a bug of the host's.
type panickyRand struct{}

func (panickyRand) Read([]byte) (int, error) { panic("the random source failed") }

// TestPreview1HostPanicTraps: a wasi_snapshot_preview1 function that
// panics with a value that is neither an exit, a trap nor a Go runtime
// error (a bug of the host's, here the embedder's random source) traps a
// core module as a host function's panic traps a component (see
// TestHaltedCallsComponent's trapped case): the call fails with one line
// naming the function and the panic, without a host stack, the instance
// is marked trapped, so the next call is refused with cabi.ErrTrapped
// without entering it, and Close releases it, leaving no goroutine
// behind. A wasm module, over wazero, called the ways coreCallers lists
// except through wazero itself (nothing refuses that call).
func TestPreview1HostPanicTraps(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, NewFastRuntimeConfig())
	t.Cleanup(func() { r.Close(ctx) })
	rt, err := New(ctx, r, Config{})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := CompileModule(ctx, r, randReactor())
	if err != nil {
		t.Fatal(err)
	}
	g0 := goruntime.NumGoroutine()
	for _, caller := range []string{"Instance.Call", "CallError"} {
		t.Run(caller, func(t *testing.T) {
			inst, err := rt.Instantiate(ctx, compiled, ModuleConfig{Configure: func(mc wazero.ModuleConfig) wazero.ModuleConfig {
				return mc.WithRandSource(panickyRand{})
			}})
			if err != nil {
				t.Fatal(err)
			}
			call := func() error {
				if caller == "CallError" {
					_, err := inst.Module().ExportedFunction("rand").Call(inst.Context())
					return inst.CallError(err)
				}
				_, err := inst.Call("rand")
				return err
			}
			err = call()
			const want = "wasi_snapshot_preview1.random_get: host panic: the random source failed"
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "goroutine ") {
				t.Errorf("rand = %v, want a trap saying %q and no host stack", err, want)
			}
			if !inst.Cabi().Trapped() {
				t.Error("the instance is not marked trapped")
			}
			if caller == "Instance.Call" {
				if err := call(); !errors.Is(err, cabi.ErrTrapped) {
					t.Errorf("rand after the trap = %v, want it refused with cabi.ErrTrapped", err)
				}
			}
			if err := inst.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
			if n := inst.Sockets(); n != 0 {
				t.Errorf("%d sockets held after Close", n)
			}
		})
	}
	for deadline := time.Now().Add(5 * time.Second); goruntime.NumGoroutine() > g0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left behind: %d > %d", goruntime.NumGoroutine(), g0)
		}
	}
}
