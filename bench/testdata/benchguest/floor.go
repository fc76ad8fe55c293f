package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/wasitls/wasitls/guest/poll"
	"github.com/wasitls/wasitls/guest/wasi/clocks"
)

// The floor modes run, per "connection", the Go runtime's own work of one
// handshake of the dialer (floor client) or of the server (floor server)
// with no TLS and no socket: the host's part is a zero-duration clock
// pollable per wait (subscribe, poll, drop), which the C guest's floor mode
// (cguest.c) makes too, with no goroutines. Package bench's TestBudget
// (-budget.op floor or server-floor) sets the two against each other: the
// difference per connection is what Go's runtime compiled to WebAssembly
// costs a handshake, with the guest libraries' own code left out.
//
// A shape is one connection's work, from the command line (package bench
// keeps the figures, taken from TestBudget -budget.count per handshake):
// the waits give the poll calls, and with the pads the runtime's
// allocations (runtime.mallocgc) and sync.Mutex Lock calls; a server's
// connection has its goroutine and its stack growth, and the accept loop
// waits for it (once on a ready pollable, then beside the connection).
type floorShape struct {
	goroutine bool // a goroutine per connection, the accept loop waiting beside it
	waits     int  // waits on a ready pollable through guest/poll, the connection's own
	allocs    int  // allocations besides the waits' own
	locks     int  // sync.Mutex rounds besides the waits' own
}

// floor parses the shape (client|server WAITS ALLOCS LOCKS), then reads a
// count N per line on stdin and runs N connections, answering "ok" on
// stdout.
func floor(args []string) error {
	if len(args) != 4 || args[0] != "client" && args[0] != "server" {
		return fmt.Errorf("floor: want client|server WAITS ALLOCS LOCKS, got %q", args)
	}
	shape := floorShape{goroutine: args[0] == "server"}
	for i, v := range []*int{&shape.waits, &shape.allocs, &shape.locks} {
		n, err := strconv.Atoi(args[i+1])
		if err != nil || n < 0 {
			return fmt.Errorf("floor: bad count %q", args[i+1])
		}
		*v = n
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(in.Text())
		if err != nil {
			return err
		}
		if shape.goroutine {
			err = floorServer(shape, n)
		} else {
			for range n {
				if err = floorConn(shape); err != nil {
					break
				}
			}
		}
		if err != nil {
			return err
		}
		fmt.Println("ok")
	}
	return in.Err()
}

// floorServer runs n connections as the server does: the accept loop
// waits for a connection, starts its goroutine and waits again (here, on a
// clock pollable that is never ready, until the connection ends) while the
// connection's goroutine runs and waits.
func floorServer(shape floorShape, n int) error {
	never := clocks.SubscribeDuration(clocks.Duration(24 * time.Hour))
	defer never.Drop()
	for range n {
		if err := readyWait(); err != nil { // the listener's wait
			return err
		}
		done := make(chan struct{})
		var err error
		go func() {
			defer close(done)
			err = floorConn(shape)
		}()
		if werr := poll.Wait(never, time.Time{}, done); werr != poll.ErrCanceled {
			return fmt.Errorf("floor: accept loop's wait: %v", werr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// floorConn is one connection's work.
func floorConn(shape floorShape) error {
	if shape.goroutine {
		growStack(0)
	}
	for range shape.waits {
		if err := readyWait(); err != nil {
			return err
		}
	}
	for i := range shape.allocs {
		pad(i)
	}
	for range shape.locks {
		floorMu.Lock()
		floorCount++
		floorMu.Unlock()
	}
	return nil
}

// readyWait waits through the poller on a pollable that is ready at once.
func readyWait() error {
	p := clocks.SubscribeDuration(0)
	err := poll.Wait(p, time.Time{}, nil)
	p.Drop()
	return err
}

var (
	floorMu    sync.Mutex
	floorCount int
	// sink keeps the pads' allocations on the heap.
	sink [3]any
)

type padNode struct {
	next *padNode
	v    [4]int
}

// pad allocates as a handshake's guest code does: small objects with
// pointers, tiny ones and a buffer.
//
//go:noinline
func pad(i int) {
	switch i % 3 {
	case 0:
		sink[0] = &padNode{v: [4]int{i}}
	case 1:
		sink[1] = new(int64)
	default:
		sink[2] = make([]byte, 48+i)
	}
}

// growStack calls depth frames down to one that needs more stack than a
// new goroutine has, so that the connection's goroutine grows its stack
// once, as the handshake's does.
//
//go:noinline
func growStack(depth int) byte {
	if depth == 0 {
		return bigFrame()
	}
	return growStack(depth-1) + 1
}

//go:noinline
func bigFrame() byte {
	var b [5 << 10]byte
	for i := range b {
		b[i] = byte(i)
	}
	var sum byte
	for _, v := range b {
		sum += v
	}
	return sum
}
