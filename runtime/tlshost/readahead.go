package tlshost

import (
	"context"
	"errors"
	"sync"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime"
)

// Read-ahead bytes.
//
// A backend may read a peer's application data before the guest asks for
// it and hold it for the guest's reads: circl-pq's server, while a
// post-handshake certificate request (server-connection.request-client-
// identity) waits for the client's answer, reads on to find the answer
// behind the data the client sends meanwhile, up to 1 MiB a connection.
// Those bytes are data, not the peer's handshake, and are not counted
// against Config.PeerCertBytes (a client that uploads before it answers
// must not lose its connection); a client of a guest server that asks all
// its clients at once would otherwise make the host hold 1 MiB per socket.
// The guard of each connection is the backend's
// backends.ReadAheadCounter: what it holds of read-ahead data counts
// against Config.ReadAheadBytes, every connection of a guest together. A
// backend told no stops reading ahead, as at its own bound, and the
// request waits for the guest's reads (bounded by its timeout): no
// connection fails at the cap. The count is of the bytes the backend
// holds (circl-pq: its buffer's capacity), and goes to 0 once the guest
// read the last of the data, or when the connection is released.

// DefaultReadAheadBytes is the default of Config.ReadAheadBytes: 16 MiB,
// enough for 16 connections to read ahead a whole MiB each, or for a
// server that asks hundreds of clients at once for their certificates
// to read ahead of the guest a few records (16 KiB each) of each, which is
// what a client sends in the round trip its answer takes when its data
// does not race the answer. A server whose clients upload more before
// they answer sees its requests wait for its own reads, which it does
// anyway to take the data. It is 1/256 of what 4,096 sockets reading
// ahead 1 MiB each would make the host hold (4 GiB).
const DefaultReadAheadBytes = 16 << 20

// ErrReadAheadBytes is what a connection's guard tells a backend that
// would take the guest's read-ahead bytes past Config.ReadAheadBytes; the
// backend stops reading ahead, and the guest never sees it.
var ErrReadAheadBytes = errors.New("tlshost: read-ahead bytes: the guest's TLS connections hold as much of their peers' application data ahead of the guest's reads as allowed (tlshost.Config.ReadAheadBytes, wasitls run --max-read-ahead-bytes)")

type readAheadBytesKey struct{ h *Host }

func (h *Host) readAheadBytesLimit() int64 {
	if h.cfg.ReadAheadBytes > 0 {
		return int64(h.cfg.ReadAheadBytes)
	}
	return DefaultReadAheadBytes
}

// newReadAheadBytes is a guest's count of the application data its
// connections' backends read ahead of its reads.
func (h *Host) newReadAheadBytes(g *runtime.Guest) *byteBudget {
	return &byteBudget{limit: h.readAheadBytesLimit(), caps: capreport.From(g), cap: capreport.ReadAheadBytes}
}

// countPeer makes the guest of a host call count what the peer of e's
// connection makes the host hold: its handshake (peercertbytes.go) and
// the application data the backend reads ahead of the guest.
func (h *Host) countPeer(ctx context.Context, fn string, e *ending) {
	h.peerCertBytes(ctx, fn).meter(e)
	b := guestValue(h.guest(ctx, fn), readAheadBytesKey{h}, h.newReadAheadBytes)
	e.guard.readAhead.Store(&readAheadHold{b: b})
}

// A readAheadHold is one connection's share of its guest's read-ahead
// bytes.
type readAheadHold struct {
	b        *byteBudget
	mu       sync.Mutex
	n        int64 // what the backend last told, under mu
	released bool  // under mu
}

// hold makes the connection's share n bytes, or returns
// ErrReadAheadBytes, keeping the share as it was, if that would take the
// guest's count past its limit or the connection was released (a backend
// still reading then holds nothing more). Less is never refused.
func (r *readAheadHold) hold(n int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		if n > 0 {
			return ErrReadAheadBytes
		}
		return nil
	}
	if _, ok := r.b.take(n - r.n); !ok {
		return ErrReadAheadBytes
	}
	r.n = n
	return nil
}

// release gives the connection's share back, whatever the backend told
// last.
func (r *readAheadHold) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.released {
		r.released = true
		r.b.give(r.n)
		r.n = 0
	}
}

// HoldReadAhead implements backends.ReadAheadCounter: what the backend
// holds of the peer's application data ahead of the guest's reads counts
// against the guest's Config.ReadAheadBytes until the backend tells less
// or the connection is released; past the limit the backend is told to
// stop reading ahead.
func (g *guard) HoldReadAhead(n int64) error {
	if r := g.readAhead.Load(); r != nil {
		return r.hold(n)
	}
	return nil
}

var _ backends.ReadAheadCounter = (*guard)(nil)

// ReadAheadFreed implements backends.ReadAheadNotifier: the channel is
// closed the next time any connection of the guest gives read-ahead bytes
// back, so that a backend refused waits for that rather than asking again
// on a timer. A connection not counted refuses nothing: nil.
func (g *guard) ReadAheadFreed() <-chan struct{} {
	if r := g.readAhead.Load(); r != nil {
		return r.b.freed()
	}
	return nil
}

var _ backends.ReadAheadNotifier = (*guard)(nil)

// releaseReadAhead gives back the connection's share of the read-ahead
// bytes.
func (g *guard) releaseReadAhead() {
	if r := g.readAhead.Load(); r != nil {
		r.release()
	}
}
