package runtime_test

import (
	"context"
	"io"
	"math"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime"
)

// TestPreview1PollStdinLongClock: a poll_oneoff of a read subscription to
// standard input beside a relative clock waits as long as the clock asks
// when nothing comes on standard input, a clock whose milliseconds do not
// fit 32 bits too, and answers with standard input's event once a byte
// comes. Before, wazero handed the wait its timeout in milliseconds cut to
// an int32: 2^32+1 ms (some 50 days) waited 1 ms, and the guest was told
// its clock had fired. A clock of 10 ms still fires alone.
func TestPreview1PollStdinLongClock(t *testing.T) {
	ctx := context.Background()
	wasm := napper(t)
	const clockBit, stdinBit = 1 << 1, 1 << 2
	for _, path := range corePaths {
		rt, compiled := path.setup(t, runtime.Config{}, wasm)
		for _, ns := range []uint64{(1<<32 + 1) * uint64(time.Millisecond), 1 << 31 * uint64(time.Millisecond), math.MaxUint64} {
			stdin, feed := io.Pipe()
			inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Stdin: stdin})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			var errno uint64
			go func() {
				res, err := inst.Call("pollin", ns)
				if err == nil {
					errno = uint64(uint32(res[0]))
				}
				done <- err
			}()
			// Nothing comes on standard input: the poll must still wait.
			// (A poll that waits as asked never returns here.)
			select {
			case err := <-done:
				seen, _ := inst.Call("seen")
				t.Fatalf("%s, clock of %d ns: poll_oneoff returned at once (%v, errno %d, events %v), want it waiting", path.name, ns, err, errno, seen)
			case <-time.After(300 * time.Millisecond):
			}
			if _, err := feed.Write([]byte{'x'}); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil || errno != 0 {
					t.Fatalf("%s, clock of %d ns: %v, errno %d", path.name, ns, err, errno)
				}
			case <-time.After(stopBound):
				t.Fatalf("%s, clock of %d ns: poll_oneoff has not returned %v after standard input had a byte", path.name, ns, stopBound)
			}
			if seen, err := inst.Call("seen"); err != nil || uint32(seen[0])&stdinBit == 0 {
				t.Errorf("%s, clock of %d ns: events %v (%v), want standard input's among them", path.name, ns, seen, err)
			}
			inst.Close(ctx)
			feed.Close()
		}

		// A short clock fires alone.
		stdin, feed := io.Pipe()
		inst, err := rt.Instantiate(ctx, compiled, runtime.ModuleConfig{Stdin: stdin})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := inst.Call("pollin", uint64(10*time.Millisecond)); err != nil || uint32(res[0]) != 0 {
			t.Fatalf("%s, clock of 10 ms: %v, errno %v", path.name, err, res)
		}
		if seen, err := inst.Call("seen"); err != nil || uint32(seen[0]) != clockBit {
			t.Errorf("%s, clock of 10 ms: events %v (%v), want the clock's alone", path.name, seen, err)
		}
		inst.Close(ctx)
		feed.Close()
	}
}
