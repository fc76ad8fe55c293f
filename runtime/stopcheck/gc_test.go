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
	wasm, err := stopcheck.Instrument(spinModule())
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
	time.Sleep(100 * time.Millisecond)
	for range 5 {
		goruntime.GC()
	}
	mod.ExportedGlobal(stopcheck.GlobalName).(api.MutableGlobal).Set(1)
	if err := <-done; err == nil {
		t.Fatal("spin returned normally")
	}
}
