package tlshost

import (
	"context"
	"fmt"
	"sync"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime"
)

// Pending handshakes.
//
// A guest holds at most Config.PendingHandshakes handshakes pending at
// once. A handshake is pending from the call that creates it (connect,
// accept, or the draft's client-handshake constructor) until its handshake
// goroutine has returned (it completed, failed, was aborted, or timed out)
// or its connection was dropped, whichever comes first. A handshake the
// guest never resumes counts too: it holds a connection, its transport and
// a socket. Post-handshake authentication does not count.
//
// Past the limit, connect and accept return an error result, whose reason
// (naming the limit) *-last-error reads; the draft's constructor has no
// error case, so its future resolves with the error. The count is per
// guest: each guest's pendingSet lives in its runtime.Guest.

// DefaultPendingHandshakes is the default of Config.PendingHandshakes.
const DefaultPendingHandshakes = 1024

// handshakeEnded reports whether a session's handshake no longer counts as
// pending: its goroutine returned (or will never run), or the connection
// was closed.
func (e *ending) handshakeEnded() bool {
	if e.d.doneSig.Fired() {
		return true
	}
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	return e.closed
}

// A pendingSet is one guest's pending handshakes. Ended ones are swept
// when the set is full, so its size stays within the limit, and when it
// has grown to twice what the last sweep left (at least pendingSweepMin),
// so that it holds few ended handshakes: each holds its connection, with
// the backend's buffers, until swept, and a guest making one handshake
// after another kept up to the limit of them alive (a thousand
// connections' worth for the garbage collector to mark on every cycle).
// Sweeping costs a check per handshake held, at most every
// pendingSweepMin/2 admissions on average.
type pendingSet struct {
	limit int
	caps  *capreport.Reporter // told of each refusal for the limit; may be nil

	mu       sync.Mutex
	sessions []interface{ handshakeEnded() bool }
	sweepAt  int // sweep when the set holds this many (0: pendingSweepMin)
}

// pendingSweepMin is the size below which a pendingSet is not swept
// before it is full.
const pendingSweepMin = 16

// admit counts s as pending, or fails when the guest already has the
// most allowed.
func (p *pendingSet) admit(s interface{ handshakeEnded() bool }) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.sessions); n >= p.limit || n >= max(p.sweepAt, pendingSweepMin) {
		live := p.sessions[:0]
		for _, x := range p.sessions {
			if !x.handshakeEnded() {
				live = append(live, x)
			}
		}
		clear(p.sessions[len(live):])
		p.sessions = live
		p.sweepAt = 2 * len(live)
	}
	if len(p.sessions) >= p.limit {
		p.caps.Refused(capreport.PendingHandshakes, p.limit)
		return fmt.Errorf("tlshost: the guest has %d handshakes pending, the most allowed (tlshost.Config.PendingHandshakes, wasitls run --max-pending-handshakes); finish, abort or drop one first", p.limit)
	}
	p.sessions = append(p.sessions, s)
	return nil
}

// forget removes s, admitted for a handshake that was then not created.
func (p *pendingSet) forget(s interface{ handshakeEnded() bool }) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.sessions {
		if x == s {
			p.sessions = append(p.sessions[:i], p.sessions[i+1:]...)
			return
		}
	}
}

// pendingKey is the key of a host's pendingSet in a runtime.Guest.
type pendingKey struct{ h *Host }

func (h *Host) pendingLimit() int {
	if h.cfg.PendingHandshakes > 0 {
		return h.cfg.PendingHandshakes
	}
	return DefaultPendingHandshakes
}

// NewGuest implements runtime.GuestExtension: it gives the guest its
// count of pending handshakes, of identity bytes and of its peers'
// handshake bytes, the host identities it may use (WithIdentities), and
// the coroutines its paused handshakes run on (coWorkers).
func (h *Host) NewGuest(ctx context.Context, g *runtime.Guest) error {
	if h.ext != nil {
		g.SetValue(memberKey{h.ext}, true)
	}
	g.SetValue(pendingKey{h}, h.newPendingSet(g))
	g.SetValue(identityBytesKey{h}, h.newIdentityBytes(g))
	g.SetValue(peerCertBytesKey{h}, h.newPeerCertBytes(g))
	g.SetValue(readAheadBytesKey{h}, h.newReadAheadBytes(g))
	g.SetValue(settingsBytesKey{h}, h.newSettingsBytes(g))
	g.SetValue(coWorkersKey{h}, newCoWorkers(coWorkerIdle))
	if size := h.cfg.sessionCacheSize(); size > 0 {
		g.SetValue(sessionsKey{h}, backends.NewLRUSessionCache(size))
	}
	if scope, ok := ctx.Value(identityScopeCtxKey{}).(identityScope); ok {
		g.SetValue(identityScopeKey{h}, scope)
	}
	return nil
}

// pending returns the pending handshakes of the guest of a host call. A
// guest instantiated without the NewGuest hook (the host registered
// directly, not through runtime.Config.Extensions) gets its set on first
// use; a call outside any runtime.Guest traps.
func (h *Host) pending(ctx context.Context, fn string) *pendingSet {
	return guestValue(h.guest(ctx, fn), pendingKey{h}, h.newPendingSet)
}

// newPendingSet is a guest's set of pending handshakes.
func (h *Host) newPendingSet(g *runtime.Guest) *pendingSet {
	return &pendingSet{limit: h.pendingLimit(), caps: capreport.From(g)}
}
