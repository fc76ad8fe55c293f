//go:build wasip1

// Command hotcalls measures what the generated guest bindings add to a hot
// call: for each of the calls a Go guest makes per I/O operation (write,
// check-write, flush, output-stream.subscribe, pollable.ready, poll, and
// poll through guest/wasi/io.PollInto as guest/poll calls it; and
// check-write, write and flush through guest/wasi/io as guest/net calls
// them) it runs
// loops of the bare //go:wasmimport call and of the generated wrapper,
// alternating A B A B in this one process, and prints one line per call on
// stderr:
//
//	ratio <generated/bare> <name>
//
// where the ratio is the fastest generated round over the fastest bare
// round; the pair whose generated call allocates (poll, which returns a
// new slice) runs last. The calls go to the host's stdout stream. Arguments: the calls per
// round and the rounds per side (default 20000 and 9). After each ratio
// line comes the pair's allocation count:
//
//	allocs <calls> <bare allocations> <generated allocations> <name>
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/guest/wasi/cabi"
	wasiio "github.com/wasitls/wasitls/guest/wasi/io"
)

// The bare imports: what a hand-written guest would declare.

//go:wasmimport wasi:cli/stdout@0.2.8 get-stdout
func bareGetStdout() uint32

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.write
func bareWrite(self, ptr, n, ret uint32)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.check-write
func bareCheckWrite(self, ret uint32)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.flush
func bareFlush(self, ret uint32)

//go:wasmimport wasi:io/streams@0.2.8 [method]output-stream.subscribe
func bareSubscribe(self uint32) uint32

//go:wasmimport wasi:io/poll@0.2.8 [method]pollable.ready
func bareReady(self uint32) uint32

//go:wasmimport wasi:io/poll@0.2.8 [resource-drop]pollable
func bareDropPollable(self uint32)

//go:wasmimport wasi:io/poll@0.2.8 poll
func barePoll(ptr, n, ret uint32)

var ret [2]uint64

func retAddr() uint32 { return uint32(uintptr(unsafe.Pointer(&ret))) }

// failed is set by a loop whose call reported an error: the figures would
// not be of the success path.
var failed string

func fail(name string, err any) {
	if failed == "" {
		failed = fmt.Sprintf("%s: %v", name, err)
	}
}

// allocCalls is how many calls the allocation count of each side covers.
const allocCalls = 1000

// mallocs is how many heap allocations allocCalls calls of f make: a
// count, unlike the timings, that load does not move.
func mallocs(f func(int)) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f(allocCalls)
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}

type pair struct {
	name      string
	bare, gen func(n int)
}

func main() {
	calls, rounds := 20000, 9
	if len(os.Args) > 1 {
		calls, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		rounds, _ = strconv.Atoi(os.Args[2])
	}
	out := streams.OutputStreamBorrow(bareGetStdout())
	self := uint32(out)
	// An empty write: the check-write budget is never exceeded and no byte
	// piles up, while the call goes through the same lowering and lifting.
	data := []byte{'x'}[:0]
	p := out.Subscribe()
	defer p.Drop()
	list := []poll.PollableBorrow{p.Borrow()}
	owned := []wasiio.Pollable{wasiio.Pollable(p)}
	ready := make([]uint32, 0, 4)
	barePolls := func(n int) {
		for range n {
			barePoll(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(list)))), uint32(len(list)), retAddr())
			if uint32(ret[0]>>32) != 1 {
				fail("bare poll", ret[0])
			}
			cabi.Unpin() // release the arena block the host allocated
		}
	}

	pairs := []pair{
		{"write", func(n int) {
			for range n {
				bareWrite(self, uint32(uintptr(unsafe.Pointer(unsafe.SliceData(data)))), uint32(len(data)), retAddr())
				if ret[0]&0xff != 0 {
					fail("bare write", ret[0])
				}
			}
		}, func(n int) {
			for range n {
				if err := out.Write(data); err != nil {
					fail("write", err)
				}
			}
		}},
		{"write, check-write and flush through guest/wasi/io (what guest/net calls)", func(n int) {
			for range n {
				bareCheckWrite(self, retAddr())
				if ret[0]&0xff != 0 || ret[1] == 0 {
					fail("bare check-write", ret)
				}
				bareWrite(self, uint32(uintptr(unsafe.Pointer(unsafe.SliceData(data)))), uint32(len(data)), retAddr())
				if ret[0]&0xff != 0 {
					fail("bare write", ret[0])
				}
				bareFlush(self, retAddr())
				if ret[0]&0xff != 0 {
					fail("bare flush", ret[0])
				}
			}
		}, func(n int) {
			s := wasiio.OutputStream(out)
			for range n {
				if k, err := s.CheckWrite(); err != nil || k == 0 {
					fail("io check-write", err)
				}
				if err := s.Write(data); err != nil {
					fail("io write", err)
				}
				if err := s.Flush(); err != nil {
					fail("io flush", err)
				}
			}
		}},
		{"check-write", func(n int) {
			for range n {
				bareCheckWrite(self, retAddr())
				if ret[0]&0xff != 0 || ret[1] == 0 {
					fail("bare check-write", ret)
				}
			}
		}, func(n int) {
			for range n {
				if k, err := out.CheckWrite(); err != nil || k == 0 {
					fail("check-write", err)
				}
			}
		}},
		{"flush (result<_, stream-error>, no argument)", func(n int) {
			for range n {
				bareFlush(self, retAddr())
				if ret[0]&0xff != 0 {
					fail("bare flush", ret[0])
				}
			}
		}, func(n int) {
			for range n {
				if err := out.Flush(); err != nil {
					fail("flush", err)
				}
			}
		}},
		{"subscribe and drop", func(n int) {
			for range n {
				bareDropPollable(bareSubscribe(self))
			}
		}, func(n int) {
			for range n {
				out.Subscribe().Drop()
			}
		}},
		{"ready", func(n int) {
			h := uint32(p)
			for range n {
				if bareReady(h) == 0 {
					fail("bare ready", false)
				}
			}
		}, func(n int) {
			for range n {
				if !p.Ready() {
					fail("ready", false)
				}
			}
		}},
		{"poll into a reused slice", barePolls, func(n int) {
			for range n {
				if ready = wasiio.PollInto(owned, ready[:0]); len(ready) != 1 {
					fail("poll into", ready)
				}
			}
		}},
		{"poll of one ready pollable", barePolls, func(n int) {
			for range n {
				if r := poll.Poll(list); len(r) != 1 {
					fail("poll", r)
				}
			}
		}},
	}
	// PollInto returns the host's result in place: the host writes it into
	// the offered capacity (through the guest's offer slot, or its
	// cabi_realloc) and the lift recognises it, so no call allocates.
	wasiio.PollInto(owned, ready[:0])
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		ready = wasiio.PollInto(owned, ready[:0])
	}
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n != 0 {
		fail("poll into allocates", n)
	}
	for _, c := range pairs {
		runtime.GC()       // no garbage of the pair before
		c.bare(calls / 10) // warm up both
		c.gen(calls / 10)
		best := [2]time.Duration{1 << 62, 1 << 62}
		for range rounds {
			for side, f := range []func(int){c.bare, c.gen} {
				start := time.Now()
				f(calls)
				best[side] = min(best[side], time.Since(start))
			}
		}
		fmt.Fprintf(os.Stderr, "ratio %.3f %s (bare %.1f ns/call, generated %.1f ns/call)\n", float64(best[1])/float64(best[0]), c.name,
			float64(best[0])/float64(calls), float64(best[1])/float64(calls))
		fmt.Fprintf(os.Stderr, "allocs %d %d %d %s\n", allocCalls, mallocs(c.bare), mallocs(c.gen), c.name)
	}
	if failed != "" {
		fmt.Fprintln(os.Stderr, "failed:", failed)
		os.Exit(1)
	}
}
