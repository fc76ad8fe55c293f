package tlshost

import (
	"sync/atomic"

	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime"
)

// Per-guest counts.
//
// What a guest makes the host hold is counted per guest where the guest
// chooses its size (identitybytes.go, settingsbytes.go, peercertbytes.go,
// readahead.go, pending.go, and the client sessions of resumption.go):
// the count is a value of the guest's runtime.Guest under a key of the
// host, made by NewGuest, or on first use for a guest instantiated
// without that hook.

// guestValue returns g's value under key, made with make on first use.
func guestValue[T any](g *runtime.Guest, key any, make func(*runtime.Guest) *T) *T {
	if v, ok := g.Value(key).(*T); ok {
		return v
	}
	v := make(g)
	g.SetValue(key, v)
	return v
}

// A byteBudget is one guest's count of bytes the host holds for it,
// against a limit: its identity bytes and its settings bytes.
type byteBudget struct {
	limit int64
	used  atomic.Int64
	caps  *capreport.Reporter // told of each refusal, as cap; may be nil
	cap   capreport.Cap
	// freedCh is closed, and cleared, when the count goes down, for
	// whoever waits for room (freed); nil when nobody does.
	freedCh atomic.Pointer[chan struct{}]
}

// freed returns a channel closed the next time the count goes down. Take
// it before a take it may refuse: a give after it closes it.
func (b *byteBudget) freed() <-chan struct{} {
	for {
		if p := b.freedCh.Load(); p != nil {
			return *p
		}
		ch := make(chan struct{})
		if b.freedCh.CompareAndSwap(nil, &ch) {
			return ch
		}
	}
}

// wake closes the channel of freed, if anyone took it.
func (b *byteBudget) wake() {
	if p := b.freedCh.Swap(nil); p != nil {
		close(*p)
	}
}

// take counts n more bytes. When a positive n would take the count past
// the limit it leaves the count as it was and returns false, with the
// count n would have made. The count never passes the limit, not even
// for a moment, so a take that fits is never refused because of a
// concurrent take that did not.
func (b *byteBudget) take(n int64) (used int64, ok bool) {
	for {
		was := b.used.Load()
		used = was + n
		if n > 0 && used > b.limit {
			b.caps.Refused(b.cap, b.limit)
			return used, false
		}
		if b.used.CompareAndSwap(was, used) {
			if n < 0 {
				b.wake()
			}
			return used, true
		}
	}
}

// give gives n bytes back.
func (b *byteBudget) give(n int64) {
	b.used.Add(-n)
	if n > 0 {
		b.wake()
	}
}
