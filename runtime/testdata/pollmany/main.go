// Command pollmany polls 10,000 clock pollables in one call: all an hour
// away but one, and prints the ready indices.
package main

import (
	"fmt"
	"time"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

//go:wasmimport wasi:clocks/monotonic-clock@0.2.8 subscribe-duration
func subscribeDuration(d uint64) uint32

func main() {
	const n = 10000
	start := time.Now()
	ps := make([]uint32, n)
	for i := range ps {
		d := time.Hour
		if i == 7777 {
			d = 20 * time.Millisecond
		}
		ps[i] = subscribeDuration(uint64(d))
	}
	ready := w.Poll(ps)
	fmt.Printf("ready %v after %v\n", ready, time.Since(start) >= 20*time.Millisecond)
	for _, p := range ps {
		w.DropPollable(p)
	}
}
