package stopcheck_test

import (
	"context"
	"os"
	"os/exec"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasitls/wasitls/internal/wasmbin"
	"github.com/wasitls/wasitls/runtime/stopcheck"
)

// TestGCWhileSpinning: with no wazero checks, a garbage collection
// completes while an instrumented guest spins in a loop, and the guest
// stops when the global is set. Without the checks' periodic exit to Go
// the collection's stop-the-world would wait forever, every goroutine
// with it; so the test runs in a child process the parent bounds.
func TestGCWhileSpinning(t *testing.T) {
	if os.Getenv("STOPCHECK_GC_CHILD") == "1" {
		gcWhileSpinning(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGCWhileSpinning$", "-test.v")
	cmd.Env = append(os.Environ(), "STOPCHECK_GC_CHILD=1")
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = cmd.CombinedOutput()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("a garbage collection or the stop did not complete while the guest spun\n%s", out)
	}
}

func gcWhileSpinning(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
	defer r.Close(ctx)
	wasm, err := stopcheck.Instrument(flaggedSpinModule())
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("spin").Call(ctx)
		done <- err
	}()
	// Collect only once the guest spins: before, a fixed 100 ms sleep let
	// a loaded machine collect before the call began, and the test passed
	// without a collection during a spin.
	for deadline := time.Now().Add(30 * time.Second); mod.ExportedGlobal("spinning").Get() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the guest did not start spinning within 30 s")
		}
	}
	for range 5 {
		goruntime.GC()
	}
	mod.ExportedGlobal(stopcheck.GlobalName).(api.MutableGlobal).Set(1)
	if err := <-done; err == nil {
		t.Fatal("spin returned normally")
	}
}

// flaggedSpinModule exports spin, which sets the exported global spinning
// to 1 and then loops forever.
func flaggedSpinModule() []byte {
	var m wasmbin.Module
	flag := m.Global(wasmbin.I32, true, wasmbin.I32Const(0))
	// i32.const 1, global.set flag, loop br 0 end
	spin := m.Func(m.Type(nil, nil), nil, wasmbin.Cat([]byte{0x41, 0x01, 0x24}, wasmbin.ULEB(uint64(flag)), []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}))
	m.Export("spin", wasmbin.ExportFunc, spin)
	m.Export("spinning", wasmbin.ExportGlobal, flag)
	return m.Bytes()
}
