//go:build wasip1

// Command bigresults receives results larger than cabi_realloc's arena,
// many times, from several goroutines at once, under GC pressure: the
// host's echo of a list<u8> of over a MiB and of a list<string> of about
// half a MiB, through the generated guest bindings (../../../kitchenguest).
// The heap allocations cabi_realloc then makes inside the host's call start
// GCs and GC assists that park the calling goroutine, so that Go's
// wasmexport wrapper runs the other goroutines in the middle of the import;
// the gate in guest/wasi/cabi keeps them from calling the host until it
// returns. It checks every value, prints the gate's counters and fails
// unless the heap fallback was taken and goroutines actually waited at the
// gate while a cabi_realloc was on the heap.
//
// Usage: bigresults [workers [rounds [gcpercent]]]
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/wasitls/wasitls/generator/internal/kitchenguest/test/kitchen/echo"
	"github.com/wasitls/wasitls/guest/wasi/cabi"
)

func main() {
	workers, rounds, percent := 4, 8, 5
	if len(os.Args) > 1 {
		workers, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		rounds, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		percent, _ = strconv.Atoi(os.Args[3])
	}
	// The collector is off while the workers build their first inputs, so
	// that the first collection starts inside a cabi_realloc: starting the
	// background mark workers parks the goroutine that starts it, every
	// time a guest runs. Later collections park it in GC assists, by
	// timing.
	debug.SetGCPercent(-1)
	var wg, built sync.WaitGroup
	start := make(chan struct{})
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	built.Add(workers)
	for w := range workers {
		wg.Go(func() {
			b := input(w, 0)
			built.Done()
			<-start
			for i := range rounds {
				if i > 0 {
					b = input(w, i)
				}
				checkBytes(w, i, b, fail)
				runtime.Gosched()
				checkStrings(w, i, fail)
				runtime.Gosched()
			}
		})
	}
	built.Wait()
	debug.SetGCPercent(percent)
	close(start)
	stop := make(chan struct{})
	churned := make(chan struct{})
	go churn(stop, churned)
	wg.Wait()
	close(stop)
	<-churned

	s := cabi.Stats()
	switch {
	case len(failures) > 0:
		for _, f := range failures {
			fmt.Println("FAIL", f)
		}
		os.Exit(1)
	case s.HeapBlocks == 0:
		fmt.Println("FAIL cabi_realloc never fell back to the heap: the test proves nothing")
		os.Exit(1)
	case s.YieldsInRealloc == 0:
		fmt.Printf("FAIL no goroutine waited at the gate during a heap cabi_realloc (%+v): the test proves nothing\n", s)
		os.Exit(1)
	}
	fmt.Printf("ok calls=%d heap-blocks=%d wakes=%d yields=%d yields-in-realloc=%d\n",
		2*workers*rounds, s.HeapBlocks, s.Wakes, s.Yields, s.YieldsInRealloc)
}

// churn allocates and drops garbage, yielding between blocks, until stop
// is closed, so that a GC is running or due at any time.
func churn(stop, done chan struct{}) {
	defer close(done)
	var keep [8][]byte
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		keep[k%len(keep)] = make([]byte, 32<<10+k%4096)
		runtime.Gosched()
	}
}

// input returns the list<u8> worker w echoes in round i: over a MiB,
// different per worker and round.
func input(w, i int) []byte {
	b := make([]byte, 1<<20+w*65536+i*4099)
	for k := range b {
		b[k] = byte(k*7 + w*31 + i)
	}
	return b
}

// checkBytes echoes b and compares what comes back byte by byte.
func checkBytes(w, i int, b []byte, fail func(string, ...any)) {
	got := echo.EchoBytes(b)
	if !bytes.Equal(got, b) {
		fail("worker %d round %d: echo of %d bytes returned %d bytes, first difference at %d", w, i, len(b), len(got), firstDiff(got, b))
	}
}

// checkStrings echoes about half a MiB of strings and compares each.
func checkStrings(w, i int, fail func(string, ...any)) {
	v := make([]string, 3000)
	for k := range v {
		v[k] = fmt.Sprintf("w%d-r%d-k%d-%s", w, i, k, bytes.Repeat([]byte{'a' + byte(k%26)}, 120+k%80))
	}
	got := echo.EchoStrings(v)
	if len(got) != len(v) {
		fail("worker %d round %d: echo of %d strings returned %d", w, i, len(v), len(got))
		return
	}
	for k := range v {
		if got[k] != v[k] {
			fail("worker %d round %d: string %d is %.40q, want %.40q", w, i, k, got[k], v[k])
			return
		}
	}
}

func firstDiff(a, b []byte) int {
	for k := range min(len(a), len(b)) {
		if a[k] != b[k] {
			return k
		}
	}
	return min(len(a), len(b))
}
