// Command pollcount waits in package poll in the patterns whose host calls
// the host-side test counts: it prints "ready" once it is about to wait (so
// that the count starts there) and "done" when it finished.
//
//	alone N    one goroutine waits N times on a clock pollable ready 200
//	           microseconds later
//	parked N   the same while 20 other goroutines wait (for an hour) in
//	           the poller
//	spawned N  a goroutine started after the main goroutine waits N
//	           times while the main goroutine waits (for an hour), as a
//	           server's connection goroutine does while its accept loop
//	           waits for the next connection
//	server N   N times: start a goroutine that waits twice and ends, and
//	           wait (for an hour) until it ended, as a server's accept loop
//	           waits while a connection goroutine per accepted connection
//	           runs
//
// A third argument, a duration, sets poll.MaxBlock.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wasitls/wasitls/guest/poll"
	"github.com/wasitls/wasitls/guest/wasi/clocks"
)

func main() {
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		panic(err)
	}
	if len(os.Args) > 3 {
		if poll.MaxBlock, err = time.ParseDuration(os.Args[3]); err != nil {
			panic(err)
		}
	}
	switch os.Args[1] {
	case "alone":
	case "parked":
		hour := clocks.SubscribeDuration(clocks.Duration(time.Hour))
		for range 20 {
			go poll.Wait(hour, time.Time{}, nil)
		}
		for poll.Pending() < 20 {
			// Let them register: they park as the main goroutine waits.
			p := clocks.SubscribeDuration(0)
			poll.Wait(p, time.Time{}, nil)
			p.Drop()
		}
	case "spawned":
		fmt.Println("ready")
		hour := clocks.SubscribeDuration(clocks.Duration(time.Hour))
		done := make(chan struct{})
		go func() {
			waits(n)
			close(done)
		}()
		if err := poll.Wait(hour, time.Time{}, done); err != poll.ErrCanceled {
			panic(err)
		}
		fmt.Println("done")
		return
	case "server":
		hour := clocks.SubscribeDuration(clocks.Duration(time.Hour))
		fmt.Println("ready")
		for range n {
			done := make(chan struct{})
			go func() {
				waits(2)
				close(done)
			}()
			if err := poll.Wait(hour, time.Time{}, done); err != poll.ErrCanceled {
				panic(err)
			}
		}
		fmt.Println("done")
		return
	default:
		panic("unknown mode " + os.Args[1])
	}
	fmt.Println("ready")
	waits(n)
	fmt.Println("done")
}

// waits waits n times on a clock pollable ready 200 microseconds later.
func waits(n int) {
	for range n {
		p := clocks.SubscribeDuration(clocks.Duration(200 * time.Microsecond))
		if err := poll.Wait(p, time.Time{}, nil); err != nil {
			panic(err)
		}
		p.Drop()
	}
}
