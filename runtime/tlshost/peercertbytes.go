package tlshost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime"
)

// Peer certificate bytes.
//
// A guest's peers, servers it connects to and clients it accepts, choose
// how much the host holds for each of its connections: a peer's
// Certificate message may take up to 256 KiB (both backends' bound), which
// the backend buffers while the handshake runs and keeps, with the chain
// it parsed from it, for as long as the connection lives. Without a bound
// of their own these were bounded only by the guest's sockets (4,096 by
// default: about 1.4 GiB, at some 350 KiB per connection measured with a
// 216 KiB chain). So the bytes a guest's peers sent in their handshakes
// are counted, per guest, as the backend reads them, every connection
// together, in handshake and established: a handshake whose peer would
// take the count past Config.PeerCertBytes fails at once, with an error
// naming the limit (wrapping ErrPeerCertBytes) that the guest reads with
// client-last-error or server-last-error, and the host closes its
// connection. The count is what the peer sent of the handshake, of which
// its chain is by far the largest part: an upper bound of the chain's
// bytes, which is what an established connection keeps. The bytes return
// to the budget when the handshake fails or the guest drops the
// connection. A post-handshake client authentication (only circl-pq does
// it) counts the same way, from the request until its answer is in: what
// the client sends meanwhile, its chain and any data that interleaves,
// against the same bound, failing the request (and closing the
// connection, whose state is then unknown) past it. Its bytes stay held
// until the next one on the connection completes, whose chain replaces
// it, or the connection is dropped; a request that fails gives its own
// back. Other data after the handshake is not counted: the guest reads
// it, or the connection's buffers bound it.

// DefaultPeerCertBytes is the default of Config.PeerCertBytes: 64 MiB.
// An ordinary chain is a few KiB, and so is all a handshake reads of its
// peer, so the default leaves room for some 10,000 ordinary handshakes at
// once, more than a guest has sockets (4,096 by default), and for 256 of
// the largest chains the backends accept (256 KiB each). An established
// connection holds about 1.4 (circl-pq) to 2.3 (stdtls) times its count
// (the message, the backend's buffers and the chain parsed from it,
// measured by TestGuestPeerCertBytesLimit), so the host holds at most
// some 150 MiB per guest for its peers' chains, where the socket limit
// alone let them make it hold 1.4 GiB.
const DefaultPeerCertBytes = 64 << 20

// ErrPeerCertBytes is wrapped by the error of a handshake that failed
// because the guest's peers' handshakes would take the host past
// Config.PeerCertBytes.
var ErrPeerCertBytes = errors.New("tlshost: peer certificate bytes")

// peerCertBytes is one guest's count.
type peerCertBytes struct {
	limit int64
	mu    sync.Mutex
	used  int64
}

type peerCertBytesKey struct{ h *Host }

func (h *Host) peerCertBytesLimit() int64 {
	if h.cfg.PeerCertBytes > 0 {
		return int64(h.cfg.PeerCertBytes)
	}
	return DefaultPeerCertBytes
}

// peerCertBytes returns the count of the guest of a host call (NewGuest
// made it; a guest instantiated without that hook gets it on first use);
// a call outside any runtime.Guest traps.
func (h *Host) peerCertBytes(ctx context.Context, fn string) *peerCertBytes {
	g := runtime.GuestFrom(ctx)
	if g == nil {
		cabi.Trapf(fn, "no runtime.Guest in the context: instantiate guests with runtime.Runtime.Instantiate")
	}
	if b, ok := g.Value(peerCertBytesKey{h}).(*peerCertBytes); ok {
		return b
	}
	b := &peerCertBytes{limit: h.peerCertBytesLimit()}
	g.SetValue(peerCertBytesKey{h}, b)
	return b
}

// meter counts what the peer of e's connection sends from now until its
// handshake ends, and holds it until the connection is released.
func (b *peerCertBytes) meter(e *ending) {
	m := &peerMeter{b: b}
	m.counting.Store(true)
	e.guard.meter.Store(m)
}

// A peerMeter is one connection's share of its guest's count.
type peerMeter struct {
	b *peerCertBytes
	// counting is set while the handshake or a post-handshake
	// authentication runs: the connection's reads otherwise pay one
	// atomic load.
	counting atomic.Bool
	mu       sync.Mutex
	held     int64 // all the connection holds of the count
	authing  bool  // a post-handshake authentication runs
	auth     int64 // of held, what the running one counted
	post     int64 // of held, what the last one that completed counted
	released bool  // the connection was released: nothing counts again
	err      error // the limit stopped the count
}

// take counts n more bytes read from the peer while the handshake or a
// post-handshake authentication runs, or fails naming the limit.
func (m *peerMeter) take(n int) error {
	if !m.counting.Load() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.counting.Load() || m.released {
		return nil
	}
	b := m.b
	b.mu.Lock()
	used := b.used + int64(n)
	if used > b.limit {
		b.mu.Unlock()
		m.counting.Store(false)
		m.err = fmt.Errorf("%w: the guest's TLS peers would make the host hold %d bytes of their handshakes (certificate chains), more than the %d allowed (tlshost.Config.PeerCertBytes, wasitls run --max-peer-cert-bytes)", ErrPeerCertBytes, used, b.limit)
		return m.err
	}
	b.used = used
	b.mu.Unlock()
	m.held += int64(n)
	if m.authing {
		m.auth += int64(n)
	}
	return nil
}

// stop ends the count at the end of the handshake; what was counted
// stays held. It returns the limit's error if the limit stopped it.
func (m *peerMeter) stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counting.Store(false)
	return m.err
}

// startAuth counts what the peer sends from now until endAuth: a
// post-handshake authentication, whose answer carries the client's chain.
// At most one runs at a time.
func (m *peerMeter) startAuth() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.released || m.err != nil {
		return
	}
	m.authing, m.auth = true, 0
	m.counting.Store(true)
}

// endAuth ends the count of a post-handshake authentication. If it
// completed (ok), its chain replaces the previous one's, whose bytes
// return; otherwise its own bytes return. It returns the limit's error if
// the limit stopped it.
func (m *peerMeter) endAuth(ok bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counting.Store(false)
	if !m.authing || m.released {
		return m.err
	}
	m.authing = false
	free := m.auth
	if ok && m.err == nil {
		free, m.post = m.post, m.auth
	}
	m.auth = 0
	m.held -= free
	m.b.mu.Lock()
	m.b.used -= free
	m.b.mu.Unlock()
	return m.err
}

// release gives back what the connection held.
func (m *peerMeter) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counting.Store(false)
	m.released = true
	m.b.mu.Lock()
	m.b.used -= m.held
	m.b.mu.Unlock()
	m.held, m.auth, m.post = 0, 0, 0
}
