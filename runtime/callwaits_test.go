package runtime_test

import (
	"context"
	"errors"
	"io"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/wasitls/wasitls/internal/cguest"
	"github.com/wasitls/wasitls/runtime"
)

// napper builds testdata/napper, a reactor waiting in
// wasi_snapshot_preview1.
func napper(t *testing.T) []byte {
	return cguest.Build(t, cguest.Spec{
		Sources: []string{"testdata/napper/napper.c"},
		CFlags:  []string{"-nostdlib", "-Wl,--no-entry", "-Wall", "-Werror"},
		Core:    true,
	})
}

// TestCallContextEndsWaits: a reactor's export waiting in
// wasi_snapshot_preview1, in a wait wazero makes through the module
// configuration (a sleep of an hour in poll_oneoff, a read of a standard
// input nobody writes to, a write of 1 MiB to a standard output nobody
// reads), called with a context of its own derived from
// Instance.Context, returns with an error once that context ends (past
// its deadline, 200 ms), and the instance is trapped: it was stopped
// midway. Before, those waits ended only with the guest's context: the
// call waited the hour, or for the input or the reader. Close then leaves
// no goroutine or descriptor. With the stop flag and under wazero's
// checks.
func TestCallContextEndsWaits(t *testing.T) {
	ctx := context.Background()
	wasm := napper(t)
	for _, path := range corePaths {
		rt, compiled := path.setup(t, runtime.Config{}, wasm)
		for _, tc := range []struct {
			fn   string
			args []uint64
		}{
			{"nap", []uint64{uint64(time.Hour)}},
			{"read1", nil},
			{"spill", []uint64{1 << 20}},
		} {
			t.Run(path.name+"/"+tc.fn, func(t *testing.T) {
				goroutines, fds := goruntime.NumGoroutine(), countFDs(t)
				stdin, feed := io.Pipe()
				drain, stdout := io.Pipe()
				defer feed.Close()
				defer drain.Close()
				inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Stdin: stdin, Stdout: stdout})
				if err != nil {
					t.Fatal(err)
				}
				defer inst.Close(ctx)
				callCtx, cancel := context.WithTimeout(inst.Context(), 200*time.Millisecond)
				defer cancel()
				done := make(chan error, 1)
				start := time.Now()
				go func() {
					_, err := inst.Module().ExportedFunction(tc.fn).Call(callCtx, tc.args...)
					done <- inst.CallError(err)
				}()
				select {
				case err = <-done:
				case <-time.After(200*time.Millisecond + stopBound):
					t.Fatalf("%v after the call's context ended, %s has not returned", time.Since(start)-200*time.Millisecond, tc.fn)
				}
				if err == nil {
					t.Fatalf("%s stopped by its call's context returned no error", tc.fn)
				}
				t.Logf("%s: %v after %v", tc.fn, err, time.Since(start))
				// The call's deadline ended it: the error says so, as
				// wazero's own check of the context would, not "canceled".
				if ee := (*sys.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != sys.ExitCodeDeadlineExceeded {
					t.Errorf("%s ended by its call's deadline: %v, want an exit with sys.ExitCodeDeadlineExceeded", tc.fn, err)
				}
				if !inst.Cabi().Trapped() {
					t.Errorf("after %s stopped midway the instance is not trapped", tc.fn)
				}
				if err := inst.Close(ctx); err != nil {
					t.Errorf("close: %v", err)
				}
				feed.Close()
				drain.Close()
				settle(t, goroutines, fds)
			})
		}
	}
}
