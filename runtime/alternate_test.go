package runtime

import (
	goruntime "runtime"
	"testing"
	"time"
)

// alternateCPU runs each of runs b.N times, taking turns and rotating
// which goes first, on one OS thread, and returns the thread CPU time
// each took in all: their ratios compare them inside one process on a
// machine shared with other work.
func alternateCPU(b *testing.B, runs ...func() error) []time.Duration {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	t := make([]time.Duration, len(runs))
	for i := range b.N {
		for j := range runs {
			k := (i + j) % len(runs)
			start := threadCPU()
			if err := runs[k](); err != nil {
				b.Fatal(err)
			}
			t[k] += threadCPU() - start
		}
	}
	return t
}
