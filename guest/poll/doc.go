// Package poll parks goroutines of a Go guest (GOOS=wasip1) on WASI
// pollables, with one poller for the whole guest.
//
// # Model
//
// A standard-Go guest is one thread: a goroutine blocked inside a host import
// (blocking-read, pollable.block, poll) blocks every goroutine. So no
// goroutine blocks in the host on its own behalf. An operation that would
// block calls [Wait] with its pollable: the pollable is registered with the
// poller and the goroutine parks on a channel, leaving the thread to the
// others.
//
// The poller is a single goroutine, started on first use and parked while
// nothing is registered. Each round it:
//
//  1. yields (runtime.Gosched), so goroutines that are runnable run first,
//     until a yield comes straight back with no new wait registered
//     (nothing else ran: the guest is idle), at most four times;
//  2. when work is still happening it polls without blocking: the list
//     given to wasi:io/poll.poll ends with a zero-duration clock pollable,
//     which is always ready. When idle it blocks in poll, with a clock
//     pollable for the earliest deadline capped at [MaxBlock]: Go timers
//     (time.Sleep, time.After) cannot fire while the only thread is inside
//     the host, so the cap bounds how late they may be;
//  3. wakes the goroutines whose pollables are ready, and those whose
//     deadline passed (with os.ErrDeadlineExceeded).
//
// One poll call covers every waiting goroutine, so thousands of connections
// cost one host call per round and no goroutine spins; the cost of a round is
// linear in the number of waiters, as wasi:io/poll.poll itself is.
//
// Pollables stay owned by the caller; the poller only borrows them while
// registered. A caller must not drop a pollable while a Wait on it is
// pending: cancel the wait first (close the cancel channel and let Wait
// return).
package poll
