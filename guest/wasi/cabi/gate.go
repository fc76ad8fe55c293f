//go:build wasip1

package cabi

import (
	"runtime"
	"unsafe"
)

// busy is the gate (see the package doc, "Gate"): set while a goroutine
// owns the per-call state (return areas, arena, pinned and kept blocks, the
// offer slot), and while cabi_realloc is on the Go heap and may switch
// goroutines inside the host's call (then also inRealloc, for Stats).
var busy, inRealloc bool

// The counters of Stats: they only move on slow paths.
var stats Counts

// wake hands a waiter a chance to re-check the gate: the gatekeeper sends
// on it once the gate is free. A waiter blocks on a channel receive, which
// the compiler's inliner counts as one operation where a call would cost
// its whole budget, so that the wrappers around the cheapest imports stay
// inlined.
var wake = make(chan struct{})

func init() { go gatekeeper() }

// Wait is the gate of a call that touches no per-call state (scalar
// parameters and results): it returns once no call owns the gate, without
// taking it. Every import call site calls Wait or [Enter] first.
//
// The if around the loop is for Go's WebAssembly code generator: with it,
// the free gate falls through to the call (a load and a branch); a bare
// loop jumps to its condition through the function's block dispatcher, a
// quarter of the cost of the cheapest import. Wait is inlined into callers
// that have branches of their own; see [Enter] for wrappers that do not.
func Wait() {
	if busy {
		waitFree()
	}
}

// Enter is the gate of a call that uses per-call state: it waits like
// [Wait] and takes the gate, which [Unpin] (or [Leave]) releases. Nothing
// between the check and the store can switch goroutines.
//
// Enter has no branch: it calls through a table indexed by the gate, a
// function that returns at once or [waitFree]. The wrappers that call it
// are not inlined (the import's call and the lift take the inliner's
// budget) and most have no branch of their own; one if would give the
// function a loop over its blocks, whose header wazero's termination
// checks turn into a call out of the guest on every call, a third of
// the cost of the import.
func Enter() {
	enterPath[*(*uint8)(unsafe.Pointer(&busy))&1]()
	busy = true
}

// enterPath is Enter's table: what to do with the gate free, and taken.
var enterPath = [2]func(){func() {}, waitFree}

// waitFree returns once the gate is free.
func waitFree() {
	for busy {
		<-wake
	}
}

// Leave releases the gate taken by [Enter], for a call that does not end
// with [Unpin] (a return area without strings or lists).
func Leave() {
	busy = false
}

// suspended holds, per export in progress, whether Suspend found the gate
// taken.
var suspended []bool

// Suspend releases the gate for an export the host calls, which generated
// code runs first: an export called inside one of the guest's imports (a
// destructor run by a drop, a host calling back) runs on the goroutine
// that holds the gate, and its own imports would wait for it forever.
// [Resume], at the end of the export or in its post-return, takes it back.
func Suspend() {
	suspended = append(suspended, busy)
	busy = false
}

// Resume ends the [Suspend] of the export that ends: it takes the gate
// back if Suspend found it taken.
func Resume() {
	n := len(suspended)
	if n == 0 {
		return
	}
	if suspended[n-1] {
		busy = true
	}
	suspended = suspended[:n-1]
}

// gatekeeper wakes the waiters. It is parked in a send on wake while no
// goroutine waits; once a waiter takes the send, it yields until the gate
// is free (the owner is parked inside the Go runtime, on nothing a waiter
// holds, so yielding lets the scheduler resume it) and sends again. A
// waiter that took a send while the gate was taken again, by another
// waiter or a new call, re-checks and waits for the next one.
func gatekeeper() {
	for {
		for busy {
			stats.Yields++
			if inRealloc {
				stats.YieldsInRealloc++
			}
			runtime.Gosched()
		}
		keeperParked = true
		wake <- struct{}{}
		keeperParked = false
		stats.Wakes++
	}
}

// keeperParked is set while the gatekeeper waits for a waiter (and until
// it runs again after one came).
var keeperParked bool

// ParkedGoroutines returns how many goroutines of this package are parked
// with nothing to do (the gatekeeper, while no call waits at the gate):
// code that counts the guest's goroutines to tell whether it is idle
// (guest/poll) leaves them out.
func ParkedGoroutines() int {
	if keeperParked {
		return 1
	}
	return 0
}

// Counts are the gate's and cabi_realloc's slow-path counters since the
// guest started, for tests and diagnostics.
type Counts struct {
	// HeapBlocks is how many blocks cabi_realloc took from the Go heap
	// (larger than what was left of its arena).
	HeapBlocks uint64
	// Wakes is how many times a goroutine waiting at the gate was woken
	// (some of them to find it taken again). Yields is how many times the
	// gatekeeper yielded while a goroutine waited, and YieldsInRealloc
	// how many of those while the owner was allocating on the heap inside
	// cabi_realloc, that is inside the host's call, where the waiter's
	// import would have re-entered the host.
	Wakes, Yields, YieldsInRealloc uint64
}

// Stats returns the counters.
func Stats() Counts { return stats }
