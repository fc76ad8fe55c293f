// Package poll parks goroutines of a Go guest (GOOS=wasip1) on WASI
// pollables, with one poll call for the whole guest at a time.
//
// # Model
//
// A standard-Go guest is one thread: a goroutine blocked inside a host import
// (blocking-read, pollable.block, poll) blocks every goroutine. So no
// goroutine blocks in the host on its own behalf. An operation that would
// block calls [Wait] with its pollable, which registers it. Exactly one
// goroutine at a time runs the rounds that poll for everyone:
//
//   - The first goroutine to wait while nobody polls runs the rounds
//     itself, until its own wait is over. A guest whose goroutine waits
//     alone (a client, an event loop) thus never switches goroutines to
//     wait: its wait is one wasi:io/poll.poll call.
//   - Goroutines that wait while another one polls park on a channel,
//     leaving the thread to the others; the polling goroutine wakes them.
//   - A goroutine that waits while the polling goroutine yields to let
//     the others run (step 1 below) takes the rounds over, and the one
//     that yielded parks when its yield returns. The goroutine that last
//     got to run, which is the one with work to do, thus polls for
//     everyone: a server's connection goroutine polls for itself and for
//     the accept loop's wait, with no switch per wait of its own, where
//     the accept loop would otherwise poll and switch to it and back for
//     each.
//   - When the polling goroutine's own wait is over while others still
//     wait, it leaves the rounds to whichever goroutine waits next. If a
//     goroutine it took them over from has not returned from its yield
//     yet, that goroutine is runnable and takes them back when it returns
//     (a server's accept loop, once its connection goroutine is done).
//     Otherwise it wakes a helper goroutine (started on first use) that
//     takes them if it gets to run first: once every goroutine that can
//     run has run. The helper parks whenever it does not hold the rounds.
//
// Each round:
//
//  1. lets runnable goroutines run first. When every other goroutine of
//     the guest is parked in Wait (runtime.NumGoroutine against the count
//     of parked waiters), none can be runnable and the guest is idle at
//     once. Otherwise it yields (runtime.Gosched) and counts again, until
//     two yields in a row come straight back with nothing registered or
//     canceled (the rest of the guest is blocked elsewhere: idle; one
//     alone can be Go's scheduler running the yielder again before the
//     others), at most four times (busy);
//  2. when busy, polls without blocking: the list given to poll ends with
//     a zero-duration clock pollable, which is always ready. When idle it
//     blocks in poll, with a clock pollable for the earliest deadline
//     capped at [MaxBlock]: Go timers (time.Sleep, time.After) cannot fire
//     while the only thread is inside the host, so the cap bounds how late
//     they may be, and a poll that ends on it is followed by a yield, so
//     that the scheduler runs the timers that came due. The capped timer is
//     one pollable reused until it fires, not one per poll;
//  3. wakes the goroutines whose pollables are ready, and those whose
//     deadline passed (with os.ErrDeadlineExceeded).
//
// One poll call covers every waiting goroutine, so thousands of connections
// cost one host call per round and no goroutine spins; the cost of a round is
// linear in the number of waiters, as wasi:io/poll.poll itself is. A wait
// allocates nothing in the steady state: waiters, the poll list and its
// result are reused.
//
// Pollables stay owned by the caller; the poller only borrows them while
// registered. A caller must not drop a pollable while a Wait on it is
// pending: cancel the wait first (close the cancel channel and let Wait
// return).
package poll
