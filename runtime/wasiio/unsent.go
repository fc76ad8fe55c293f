package wasiio

import (
	"sync"
)

// UnsentFloor is what each socket's send queue may hold outside its
// guest's [UnsentBudget]: one full TLS record of 16 KiB of cleartext,
// its expansion (header, tag, padding) and a close_notify, with room to
// spare (see worstUnsent). A peer that never reads can take the shared
// budget from the guest's other connections, but never their floors: each
// can always be granted a write of 16 KiB.
const UnsentFloor = 20 << 10

// DefaultUnsentBytes is the default of the bytes a guest's sockets may
// hold unsent together beyond their floors: 64 MiB, the permits of some
// 1,200 connections writing their full [WriteBudget] at once (54 KiB of
// the budget each), and 256 times the [MaxUnsent] a single connection
// may hold, so that a bulk transfer never feels it. The worst case a
// guest makes the host hold is its sockets times UnsentFloor, plus this:
// 80 MiB + 64 MiB for the 4,096 sockets of sockets.DefaultSocketLimit,
// where each socket could hold MaxUnsent before (1 GiB).
const DefaultUnsentBytes = 64 << 20

// worstUnsent is the most a write of n bytes of cleartext adds to its
// socket's queue: the bytes, a TLS record's expansion for each record
// (crypto/tls writes records of at least some 1,100 bytes of cleartext,
// 1,250 on the wire, with an expansion of at most 80 bytes: an eighth of
// the cleartext covers it), and 2 KiB for a last short record and a
// close_notify or alert the engine adds.
func worstUnsent(n int) int { return n + n/8 + 2<<10 }

// grantFor is the largest write whose worstUnsent fits in room.
func grantFor(room int) int {
	if room <= 2<<10 {
		return 0
	}
	g := (room - 2<<10) * 8 / 9
	for worstUnsent(g+1) <= room {
		g++
	}
	for g > 0 && worstUnsent(g) > room {
		g--
	}
	return g
}

// An UnsentBudget bounds the bytes a guest's sockets' send queues hold
// together beyond each one's [UnsentFloor]. Its methods are safe for
// concurrent use.
//
// # Model
//
// A send queue counts against the budget what it holds beyond its floor
// and what it promised the guest: a permit of check-write reserves the
// worst case of the write it allows (worstUnsent), so that the write
// never has to wait or fail once granted. When the budget runs short the
// permits shrink, down to what the floor alone covers (16 KiB), rather
// than fail: a well-behaved guest writes less at a time, and its
// stream's pollable is ready as soon as its own queue is empty, as
// before. A write beyond the permit traps as before. Bytes the engine
// writes on its own account (a handshake's flights, alerts, key updates)
// take from the budget past the floor too: a handshake's writer waits for
// room, bounded by the transport's write deadline; inside ReadNow, which
// must not block, the connection fails as past MaxUnsent ("the peer is
// not reading"). While a guest's write is in progress on the connection
// (on its call, or its gathered writes' on a goroutine), the engine's
// bytes, written meanwhile from a read on another goroutine, cannot be
// told from the guest's, whose permit's reservation covers them: a write
// short of the budget then is taken past it, uncounted, rather than fail
// the connection or wait: up to one more UnsentFloor until the queue is
// next empty, so that a peer asking for key updates without reading makes
// a connection hold at most two floors outside the budget. Past that, the
// connection fails: the engine's write holds its write lock, which the
// guest's write waits for, on the guest's call (a write already waiting
// for room when the guest's begins is woken and treated the same way).
//
// A queue returns its bytes as the socket takes them, and what it
// reserved once the permit is spent or replaced; a dropped stream's queue
// keeps what it holds counted while it lingers (SocketStreamsLinger) and
// returns it once delivered, failed or given up. Every byte returns
// exactly once: a queue's count only falls to what it still holds.
type UnsentBudget struct {
	limit   int64
	refused func() // told of each shortage (capreport), may be nil

	mu      sync.Mutex
	used    int64
	blocked map[*sendQueue]struct{} // queues waiting for room
}

// NewUnsentBudget returns a budget of limit bytes (at least 0), calling
// refused (if not nil) each time it is short: a permit shrank, or a
// writer waits or fails.
func NewUnsentBudget(limit int64, refused func()) *UnsentBudget {
	return &UnsentBudget{limit: max(limit, 0), refused: refused}
}

// Limit is the budget's limit.
func (b *UnsentBudget) Limit() int64 { return b.limit }

// Used is what the budget's queues count against it now.
func (b *UnsentBudget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// take takes up to n bytes, or, all, n or nothing; it returns what it
// took. A queue given as waiter that got nothing is woken (its cond
// broadcast) when bytes return.
func (b *UnsentBudget) take(n int64, all bool, waiter *sendQueue) int64 {
	b.mu.Lock()
	got := min(n, b.limit-b.used)
	if got < 0 || (all && got < n) {
		got = 0
	}
	b.used += got
	if got == 0 && waiter != nil {
		if b.blocked == nil {
			b.blocked = map[*sendQueue]struct{}{}
		}
		b.blocked[waiter] = struct{}{}
	}
	b.mu.Unlock()
	if got < n && b.refused != nil {
		b.refused()
	}
	return got
}

// unblock forgets a queue that no longer waits.
func (b *UnsentBudget) unblock(q *sendQueue) {
	b.mu.Lock()
	delete(b.blocked, q)
	b.mu.Unlock()
}

// put returns n bytes and wakes the queues waiting for room. The caller
// may hold its queue's lock: the wake-ups run on a goroutine, which
// exists only while a queue waits, and take each waiter's lock, which it
// held from its take to its cond's Wait, so none is missed.
func (b *UnsentBudget) put(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	var wake []*sendQueue
	for q := range b.blocked {
		wake = append(wake, q)
	}
	clear(b.blocked)
	b.mu.Unlock()
	if len(wake) > 0 {
		go func() {
			for _, q := range wake {
				q.mu.Lock()
				q.cond.Broadcast()
				q.mu.Unlock()
			}
		}()
	}
}
