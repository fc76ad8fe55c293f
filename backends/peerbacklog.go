package backends

import (
	"net"
	"sync"
	"sync/atomic"
)

// A PeerBacklog is what a backend last told its transport's
// PeerBacklogCounter, and the one place that tells it: each change, and 0
// at the connection's Close, after which it tells nothing. A counter is
// told of a backlog until it hears 0, so a connection closed with a
// message in pieces (a peer that never sends its last byte) that told no
// 0 would leave a counter that has no release of its own (one per
// connection, as the host's has) holding it for good, and each such
// connection would shrink the budget it counts against. A Read still in
// progress when Close runs (crypto/tls's Close does not wait for one)
// tells nothing once it returns. The zero PeerBacklog has no counter and
// tells nothing; SetCounter gives it the transport's.
type PeerBacklog struct{ told }

// SetCounter makes transport, if it is a PeerBacklogCounter, the counter
// told. It is called before the connection's first Read.
func (b *PeerBacklog) SetCounter(transport net.Conn) {
	b.tell = nil
	if c, ok := transport.(PeerBacklogCounter); ok {
		b.tell = c.HoldPeerBacklog
	}
}

// A ReadAhead is what a backend last told its transport's
// ReadAheadCounter, and the one place that tells it, as PeerBacklog is for
// a PeerBacklogCounter: each change, and 0 at the connection's Close,
// after which it tells nothing. The zero ReadAhead has no counter and
// tells nothing; SetCounter gives it the transport's.
type ReadAhead struct {
	told
	freed func() <-chan struct{} // the counter's ReadAheadFreed, or nil
}

// SetCounter makes transport, if it is a ReadAheadCounter, the counter
// told. It is called before the connection's first Read.
func (r *ReadAhead) SetCounter(transport net.Conn) {
	r.tell, r.freed = nil, nil
	if c, ok := transport.(ReadAheadCounter); ok {
		r.tell = c.HoldReadAhead
	}
	if n, ok := transport.(ReadAheadNotifier); ok && r.tell != nil {
		r.freed = n.ReadAheadFreed
	}
}

// Freed returns the counter's ReadAheadFreed channel, taken before a Hold
// it may refuse, and whether the counter notifies: with no counter, or
// one that is no ReadAheadNotifier, it returns nil and, for the latter,
// false, and a refused backend asks again on a timer.
func (r *ReadAhead) Freed() (<-chan struct{}, bool) {
	if r.freed != nil {
		return r.freed(), true
	}
	return nil, r.tell == nil
}

// told is the count a connection last told a counter of the bytes it
// holds, shared by PeerBacklog and ReadAhead.
type told struct {
	tell   func(n int64) error // the counter; nil: none
	held   atomic.Int64        // what tell was last told; changed under mu
	mu     sync.Mutex
	closed bool
}

// Counting reports whether there is a counter to tell.
func (b *told) Counting() bool { return b.tell != nil }

// Held is what the counter was last told.
func (b *told) Held() int64 { return b.held.Load() }

// Hold tells the counter that the connection holds n bytes, if that is
// not what it was last told and the connection is not closed, and returns
// the counter's error, which means the bound would be crossed (the
// counter then keeps what it was told before). Telling what it was last
// told costs an atomic load: a backend may tell 0 at each Read that
// returns data.
func (b *told) Hold(n int64) error {
	if b.tell == nil || b.held.Load() == n {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.held.Load() == n {
		return nil
	}
	if err := b.tell(n); err != nil {
		return err
	}
	b.held.Store(n)
	return nil
}

// Close tells the counter 0, unless that is what it was last told, and
// makes every later Hold tell nothing. A backend calls it from its Close.
func (b *told) Close() {
	if b.tell == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.held.Load() != 0 {
		b.tell(0)
		b.held.Store(0)
	}
}
