package runtime

import (
	"context"
	"io"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime/component"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// callStopBound is how long a call may take to return once its context
// ended, or to be refused. Both happen at once; without the stop a call
// would never return, so the bound is a margin for a loaded machine, not
// a property.
const callStopBound = 5 * time.Second

// TestComponentCallContext: the context of Func.Call bounds the call,
// whatever the export does. An export blocked reading a stream that never
// delivers (a silent peer) and one that computes without end both return
// once the context ended (within callStopBound), with an error; the instance is
// then done for, says so to later calls, and holds no goroutine, handle
// or loan. Another instance of the runtime carries on.
func TestComponentCallContext(t *testing.T) {
	ctx := context.Background()
	rt, _ := newCheckedRuntime(t)
	calc, err := component.Parse(cguest.Build(t, calcSpec(false)))
	if err != nil {
		t.Fatal(err)
	}
	pipes := streamsComponent(t)
	goroutines := goruntime.NumGoroutine()

	for _, tc := range []struct {
		name string
		c    *component.Component
		fn   []string
		args func(t *testing.T) []any
	}{
		{"blocked on a silent stream", pipes, []string{"example:streams/pipes", "copy"}, func(t *testing.T) []any {
			pr, pw := io.Pipe() // nothing is ever written
			t.Cleanup(func() { pw.Close() })
			in := wasiio.NewInputStream(pr, pr)
			out := wasiio.NewOutputStream(io.Discard, nil)
			t.Cleanup(func() { in.Close(); out.Close() })
			return []any{
				component.HostResource{Type: streams.InputStreamType, Value: in},
				component.HostResource{Type: streams.OutputStreamType, Value: out},
			}
		}},
		{"computing", calc, []string{"clock-loop"}, func(*testing.T) []any { return []any{uint32(4_000_000_000)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := rt.InstantiateComponent(ctx, tc.c, ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close(ctx)
			f, err := inst.Component().Func(tc.fn...)
			if err != nil {
				t.Fatal(err)
			}
			args := tc.args(t)
			callCtx, cancel := context.WithTimeout(inst.Context(), 200*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := f.Call(callCtx, args...)
				done <- err
			}()
			select {
			case err = <-done:
			case <-time.After(200*time.Millisecond + callStopBound):
				t.Fatalf("%v after the call's context ended, the call has not returned", time.Since(start)-200*time.Millisecond)
			}
			if err == nil {
				t.Fatal("a call stopped by its context returned no error")
			}
			t.Logf("%s: %v after %v", tc.fn[len(tc.fn)-1], err, time.Since(start))
			if n := inst.Cabi().Table().Len(); n != 0 {
				t.Errorf("the component holds %d handles after the stopped call, want none", n)
			}
			// Later calls are refused, with an error, not a hang or a
			// panic.
			// Its context ends well past the bound, so that a call that
			// waits for it, rather than being refused, fails the test.
			again, cancel2 := context.WithTimeout(inst.Context(), 2*callStopBound)
			defer cancel2()
			start = time.Now()
			if _, err := f.Call(again, tc.args(t)...); err == nil {
				t.Error("a call after a stopped one succeeded")
			} else if took := time.Since(start); took > callStopBound {
				t.Errorf("a call after a stopped one took %v to fail: %v", took, err)
			} else {
				t.Logf("then: %v after %v", err, took)
			}
		})
	}

	// Another instance of the runtime carries on.
	other, err := rt.InstantiateComponent(ctx, calc, ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	add, _ := other.Component().Func("add")
	if v, err := add.Call(other.Context(), int32(1), int32(2)); err != nil || v != int32(3) {
		t.Fatalf("add on another instance = %v, %v", v, err)
	}
	// What the stopped calls started has ended.
	for deadline := time.Now().Add(5 * time.Second); goruntime.NumGoroutine() > goroutines; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked: %d > %d\n%s", goruntime.NumGoroutine(), goroutines, buf[:goruntime.Stack(buf, true)])
		}
	}
}
