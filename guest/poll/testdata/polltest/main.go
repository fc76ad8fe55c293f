// Command polltest exercises package poll inside a guest: many goroutines
// waiting on clock pollables at once, deadlines, cancellation, and Go
// timers firing while goroutines wait.
package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasitls/wasitls/guest/poll"
	"github.com/wasitls/wasitls/guest/wasi/clocks"
)

func main() {
	const n = 2000
	var woken atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := time.Duration(1+i%50) * time.Millisecond
			p := clocks.SubscribeDuration(clocks.Duration(d))
			defer p.Drop()
			if err := poll.Wait(p, time.Time{}, nil); err != nil {
				fmt.Println("wait:", err)
				return
			}
			if time.Since(start) < d {
				fmt.Println("woke early")
			}
			woken.Add(1)
		}()
	}
	wg.Wait()
	fmt.Println("woken", woken.Load())

	// A deadline before the pollable is ready.
	p := clocks.SubscribeDuration(clocks.Duration(time.Hour))
	err := poll.Wait(p, time.Now().Add(20*time.Millisecond), nil)
	fmt.Println("deadline", errors.Is(err, os.ErrDeadlineExceeded))

	// Cancellation wakes the waiter.
	cancel := make(chan struct{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(cancel)
	}()
	err = poll.Wait(p, time.Time{}, cancel)
	fmt.Println("canceled", errors.Is(err, poll.ErrCanceled))

	// A Canceler: canceled before the wait, the wait returns at once;
	// canceled during it, whether the waiting goroutine runs the rounds
	// (alone) or is parked (another goroutine waits too), it wakes.
	var early poll.Canceler
	early.Cancel()
	err = poll.WaitCanceler(p, time.Time{}, &early)
	fmt.Println("canceler before", err == poll.ErrCanceled)
	for _, others := range []int{0, 3} {
		var c poll.Canceler
		for range others {
			go poll.WaitCanceler(p, time.Time{}, new(poll.Canceler))
		}
		go func() {
			time.Sleep(20 * time.Millisecond)
			c.Cancel()
		}()
		t0 := time.Now()
		err = poll.WaitCanceler(p, time.Time{}, &c)
		fmt.Println("canceler during, others", others, err == poll.ErrCanceled, time.Since(t0) < 10*time.Second)
		c.Cancel() // a second Cancel does nothing
	}

	// An interrupt ends the wait in progress and a wait with a stamp
	// taken before it, not a later wait: that one lasts to its deadline.
	var ic poll.Canceler
	stale := ic.Stamp()
	go func() {
		time.Sleep(20 * time.Millisecond)
		ic.Interrupt()
	}()
	err = poll.WaitSince(p, time.Time{}, &ic, ic.Stamp())
	during := err == poll.ErrCanceled
	err = poll.WaitSince(p, time.Time{}, &ic, stale)
	before := err == poll.ErrCanceled
	err = poll.WaitSince(p, time.Now().Add(20*time.Millisecond), &ic, ic.Stamp())
	fmt.Println("interrupt", during, before, errors.Is(err, os.ErrDeadlineExceeded))

	// A Go timer fires while a goroutine waits in the poller for an hour.
	go poll.Wait(p, time.Time{}, nil)
	t0 := time.Now()
	time.Sleep(30 * time.Millisecond)
	fmt.Println("timer late by less than 200ms", time.Since(t0) < 230*time.Millisecond)
	fmt.Println("pending", poll.Pending())
}
