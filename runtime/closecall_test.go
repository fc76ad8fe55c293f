package runtime_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime"
)

// signalWriter is a standard output that closes ready at its first write.
type signalWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}

// TestCloseDuringGeneratedCall: Instance.Close from another goroutine
// while a generated caller's call of an export runs, the guest calling
// wasi_snapshot_preview1 without end, stops the call, which fails with an
// error saying the instance was closed, and closes the module only once
// the call returned. Before, Close closed the module under the call:
// wazero's close cleared the system context the guest's
// wasi_snapshot_preview1 calls read as they read it (a data race under
// -race). Both generated callers' paths, with the stop flag and under
// wazero's checks.
func TestCloseDuringGeneratedCall(t *testing.T) {
	wasm := cguest.Build(t, cguest.Spec{
		Sources: []string{"testdata/closecall/closecall.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry", "-Wall", "-Werror"},
		Core:    true,
	})
	callers := map[string]func(inst *runtime.Instance) error{
		"Exports.Leave": func(inst *runtime.Instance) error {
			x, f := bindExport(inst, "test:close/api", "churn")
			s := x.Enter()
			if s == nil {
				return x.Refusal(&f)
			}
			return x.Leave(inst.Context(), &f, f.Fn.CallWithStack(inst.Context(), s))
		},
		"Call.Invoke": func(inst *runtime.Instance) (err error) {
			x, f := bindExport(inst, "test:close/api", "churn")
			var c cabi.Call
			defer c.EndExport(&err)
			c.BeginExport(inst.Context(), &x, &f)
			c.Invoke()
			return nil
		},
	}
	for _, path := range corePaths {
		rt, compiled := path.setup(t, runtime.Config{}, wasm)
		for name, call := range callers {
			t.Run(path.name+"/"+name, func(t *testing.T) {
				ctx := context.Background()
				for range 20 {
					out := &signalWriter{ready: make(chan struct{})}
					inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Stdout: out})
					if err != nil {
						t.Fatal(err)
					}
					done := make(chan error, 1)
					go func() { done <- call(inst) }()
					<-out.ready // the guest runs its loop
					if err := inst.Close(ctx); err != nil {
						t.Errorf("close: %v", err)
					}
					select {
					case err = <-done:
					case <-time.After(stopBound):
						t.Fatalf("the call has not returned %v after Close", stopBound)
					}
					if err == nil {
						t.Fatal("the call closed under returned no error")
					}
					if !errors.Is(err, runtime.ErrClosed) {
						t.Fatalf("the call closed under: %v, want an error wrapping runtime.ErrClosed", err)
					}
				}
			})
		}
	}
}

// bindExport binds the export module#name, of no parameters and no
// results, as the generated callers do.
func bindExport(inst *runtime.Instance, module, name string) (cabi.Exports, cabi.ExportFunc) {
	b := cabi.NewBinder(inst.Module(), module, "")
	f := b.Func(name, "", nil, nil)
	if err := b.Err(); err != nil {
		panic(err)
	}
	return b.Exports(inst.Cabi(), nil, 1, false), f
}
