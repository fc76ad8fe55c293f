package tlshost

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wasitls/wasitls/internal/capreport"
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
// bytes, which is what an established connection keeps; and what the
// backend keeps parsed of the chain, as it holds the heap, which a
// backend that keeps it (stdtls: crypto/tls, for the connection's life)
// reports as soon as it parsed it (backends.PeerHeapCounter, which the
// guard implements). Before, that went uncounted: a certificate naming
// thousands of one-letter URIs, which a server may send after its
// trusted leaf, holds some 40 times its bytes parsed, so that a guest
// under 1 MiB kept 24 stdtls connections holding 8.75 MiB, and 256 KiB
// Certificate messages of them 10 MiB a connection. So does what a
// server's backend holds parsed of the ClientHello while the handshake
// runs, which the host counts at the ClientHello hook (countHello) and
// gives back as the handshake ends: a ClientHello of thousands of ALPN
// protocols or key shares holds 8 times its bytes parsed. The bytes return
// to the budget when the handshake fails or the guest drops the
// connection. A post-handshake client authentication (only circl-pq does
// it) counts the same way, from the request until its answer is in: what
// the client sends meanwhile, its chain above all, against the same
// bound, failing the request (and closing the connection, whose state is
// then unknown) past it. The application data records that interleave
// are taken out of that count as the backend reads them
// (backends.ApplicationDataCounter): the guest reads them, or the
// backend's bound on what it keeps for Read holds them (circl-pq's
// 1 MiB). Before, they counted, so that a client uploading more than the
// limit before its reader met the request had a good connection refused
// and closed. Its bytes stay held
// until the next one on the connection completes, whose chain replaces
// it, or the connection is dropped; a request that fails gives its own
// back. A backend that buffers a post-handshake handshake message whole
// before it looks at it (stdtls: crypto/tls, 256 KiB for a Certificate,
// which it then refuses) reports what it read since data last came out of
// Read past what its record buffer holds anyway
// (backends.PeerBacklogCounter, holdBacklog): a peer sending one in
// pieces, never its last byte, made each connection hold some 560 KiB,
// uncounted, 2.2 GiB over a guest's 4,096 sockets. That counts until data
// comes out or the connection is released, and a read that would cross
// the limit fails naming it. Other data after the handshake is not
// counted: the guest reads it, or the connection's buffers bound it.
//
// What the guest is given of a peer's chain, a future-public-identity's
// value (verify-server-identity, request-client-identity) or a
// public-identity (the future's, server-identity, client-identity),
// shares the bytes the backend read, which it never modifies, rather than
// copying them, and shares the count of them too (peerHold): the bytes
// return to the budget once the connection is released and the guest
// has dropped each of these, so a guest keeping the identities of
// dropped connections, or the futures of failed handshakes, keeps their
// bytes counted.

// DefaultPeerCertBytes is the default of Config.PeerCertBytes: 64 MiB.
// An ordinary chain is a few KiB, and so is all a handshake reads of its
// peer, so the default leaves room for some 10,000 ordinary handshakes at
// once, more than a guest has sockets (4,096 by default), and for 256 of
// the largest chains the backends accept (256 KiB each). An established
// connection holds about 1.4 (circl-pq) to 2.3 (stdtls) times its count
// (the message, the backend's buffers and the chain parsed from it, which
// counts as it holds the heap: measured by TestGuestPeerCertBytesLimit
// and TestGuestPeerParsedChainCounts), so the host holds at most
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
	caps  *capreport.Reporter // told of each refusal for the limit; may be nil
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
	return guestValue(h.guest(ctx, fn), peerCertBytesKey{h}, h.newPeerCertBytes)
}

// newPeerCertBytes is a guest's count of its peers' handshake bytes.
func (h *Host) newPeerCertBytes(g *runtime.Guest) *peerCertBytes {
	return &peerCertBytes{limit: h.peerCertBytesLimit(), caps: capreport.From(g)}
}

// meter counts what the peer of e's connection sends from now until its
// handshake ends, and holds it until the connection is released.
func (b *peerCertBytes) meter(e *ending) {
	m := &peerMeter{b: b, base: &peerHold{b: b, refs: 1}}
	m.counting.Store(true)
	e.guard.meter.Store(m)
}

// A peerHold is an amount of a guest's count that a connection and the
// guest's resources sharing a chain it counted (peerChain) hold together:
// it returns to the budget when the last of them lets go.
type peerHold struct {
	b    *peerCertBytes
	n    int64 // under b.mu
	refs int   // under b.mu
}

// acquire adds a holder; one that comes after the last let go (a chain
// handed out after its connection was released) counts the bytes again.
func (h *peerHold) acquire() *peerHold {
	if h == nil {
		return nil
	}
	h.b.mu.Lock()
	if h.refs == 0 {
		h.b.used += h.n
	}
	h.refs++
	h.b.mu.Unlock()
	return h
}

// put lets go of a holder's share; the last returns the bytes.
func (h *peerHold) put() {
	if h == nil {
		return
	}
	h.b.mu.Lock()
	if h.refs--; h.refs == 0 {
		h.b.used -= h.n
	}
	h.b.mu.Unlock()
}

// A peerChain is a peer's certificate chain as the guest's resources
// (a future-public-identity's value, a public-identity) see it: the bytes
// the backend read and keeps, never modified, shared rather than copied,
// and a share of the count that holds them.
type peerChain struct {
	chain [][]byte
	hold  *peerHold // nil: not counted (no meter)
}

// put lets go of the chain's share of the count.
func (c *peerChain) put() {
	if c != nil {
		c.hold.put()
	}
}

// newChainFuture is a future of a peer chain, whose share of the count
// goes back if the guest drops the future without taking it.
func newChainFuture() *future[*peerChain] {
	f := newFuture[*peerChain]()
	f.free = (*peerChain).put
	return f
}

// A peerMeter is one connection's share of its guest's count.
type peerMeter struct {
	b *peerCertBytes
	// counting is set while the handshake or a post-handshake
	// authentication runs: the connection's reads otherwise pay one
	// atomic load.
	counting atomic.Bool
	mu       sync.Mutex
	base     *peerHold // what the handshake counted
	auth     *peerHold // what the running post-handshake authentication counted
	// appRead is the backend's count of the application data it read
	// (backends.ApplicationDataCounter), nil if it has none; appSeen is
	// its value when the running authentication last took it out.
	appRead  func() int64
	appSeen  int64
	post     *peerHold // what the last one that completed counted
	released bool      // the connection was released: nothing counts again
	err      error     // the limit stopped the count
	// backlog is what the backend holds of what the peer sent after the
	// handshake with no data coming of it yet, as it last told
	// (backends.PeerBacklogCounter), counted until it tells 0 or the
	// connection is released.
	backlog int64
	// hello is what countHello counted of the parsed ClientHello, and
	// read of a second one, given back as the handshake ends.
	hello int64
	// retry follows a server's answer to the ClientHello (see
	// countHello): retryReply, the hook ran and the next bytes written
	// tell whether they are a HelloRetryRequest, whose first bytes reply
	// holds meanwhile (under mu); retryHello, one went out and what the
	// peer sends until the server writes again, its second ClientHello,
	// counts parsed too; retryRead, some of it was read (under mu).
	retry     atomic.Int32
	reply     []byte
	retryRead bool
}

// The states of peerMeter.retry.
const (
	retryNone = iota
	retryReply
	retryHello
)

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
	h := m.base
	if m.auth != nil {
		h = m.auth
	}
	b := m.b
	b.mu.Lock()
	m.creditAppDataLocked()
	used := b.used + int64(n)
	if used > b.limit {
		b.mu.Unlock()
		m.counting.Store(false)
		m.err = b.refuse(used)
		return m.err
	}
	b.used = used
	if h.refs > 0 {
		h.n += int64(n)
	} else {
		// Everyone let go already: the bytes are not held.
		b.used -= int64(n)
	}
	b.mu.Unlock()
	return nil
}

// refuse reports that the count would reach used, past the limit, and
// returns the error naming it.
func (b *peerCertBytes) refuse(used int64) error {
	b.caps.Refused(capreport.PeerCertBytes, b.limit)
	return fmt.Errorf("%w: the guest's TLS peers would make the host hold %d bytes of their handshakes (certificate chains), more than the %d allowed (tlshost.Config.PeerCertBytes, wasitls run --max-peer-cert-bytes)", ErrPeerCertBytes, used, b.limit)
}

// holdCopy counts n bytes the host keeps of what the peer sent in a copy
// made for the guest (a ClientHello's lists, a certificate request: see
// cloneHello and cloneRequest), apart from the connection's count: the
// guest may keep the copy, the future that holds it or the resource it
// took it as, after the handshake ended and gave the connection's count
// back, as long as it holds the connection. It counts until the hold is
// put, or fails naming the limit. A nil meter counts nothing.
//
// Before, the copies counted nowhere: a guest server that took the
// client-hello of clients offering 15,000 ALPN protocols of 3 bytes (a
// 75 KB copy each) and kept it past its handshake, which the host gave up
// on, kept them all, some 300 MiB over the 4,096 TLS connections a guest
// may hold, past the 64 MiB default of the peer certificate bytes.
func (m *peerMeter) holdCopy(n int64) (*peerHold, error) {
	if m == nil {
		return nil, nil
	}
	b := m.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if used := b.used + n; used > b.limit {
		return nil, b.refuse(used)
	}
	b.used += n
	return &peerHold{b: b, n: n, refs: 1}, nil
}

// creditAppDataLocked takes the application data records the backend read
// since the last call out of the running authentication's count: data,
// not the client's chain. Records whose first bytes were read before the
// authentication started may take out a little more than it counted of
// them, at most what the backend reads ahead, and never more than it
// counted. The caller holds m.mu and m.b.mu.
func (m *peerMeter) creditAppDataLocked() {
	if m.auth == nil || m.appRead == nil {
		return
	}
	now := m.appRead()
	d := now - m.appSeen
	m.appSeen = now
	if d <= 0 || m.auth.refs == 0 {
		return
	}
	d = min(d, m.auth.n)
	m.auth.n -= d
	m.b.used -= d
}

// holdChain makes what the handshake counted at least the bytes of chain,
// the peer chain its connection keeps, and more bytes besides (its
// stapled OCSP response), or fails naming the limit. It is
// called once the handshake completed, before stop. A full handshake read
// the chain, and more: nothing changes. A resumed one read no
// certificate, yet its connection keeps the chain of the session it
// resumed for its life and hands it to the guest (server-identity,
// verify-server-identity); that chain outlives the session in the cache,
// which the next full handshake to the server name replaces. Before,
// a resumed connection counted what its handshake read alone, a few KiB:
// a server that made its client pool alternate full handshakes, whose
// connections it then closed, and resumed ones, which it kept, had the
// host hold a chain per resumed connection beyond the limit (a guest
// under 1 MiB kept 12 connections of a 200 KiB chain each). Counting the
// session's chain anew where the cache or another connection shares its
// bytes counts them twice: over, never under.
func (m *peerMeter) holdChain(chain [][]byte, more int) error {
	n := int64(more)
	for _, c := range chain {
		n += int64(len(c))
	}
	m.mu.Lock()
	m.b.mu.Lock()
	missing := n - (m.base.n - m.hello)
	m.b.mu.Unlock()
	m.mu.Unlock()
	if missing <= 0 {
		return nil
	}
	return m.take(int(missing))
}

// stop ends the count at the end of the handshake; what was counted
// stays held. It returns the limit's error if the limit stopped it.
func (m *peerMeter) stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counting.Store(false)
	m.retry.Store(retryNone)
	m.reply = nil
	if m.hello > 0 {
		m.b.mu.Lock()
		if m.base.refs > 0 {
			m.base.n -= m.hello
			m.b.used -= m.hello
		}
		m.b.mu.Unlock()
		m.hello = 0
	}
	return m.err
}

// helloParseFactor is how many times its bytes a server's backend holds
// parsed of a ClientHello while the handshake runs, at the most, beyond
// the bytes read: a one-byte ALPN protocol, two bytes on the wire, is a
// 16-byte string header in a slice grown by append and an allocation of
// its own (crypto/tls), a key share of one byte, five, a 32-byte struct
// (both backends), a PSK identity of one byte, seven, a 32-byte struct.
// Measured: 15,000 ALPN protocols of 3 bytes (61 KB) held 437 (circl-pq)
// to 511 (stdtls) KiB, 8,000 key shares of one byte (56 KB) 397 to 464
// KiB, an ordinary ClientHello (1.5 KB) 15 to 19 KiB.
const helloParseFactor = 12

// countHello counts, until the handshake ends, helloParseFactor times
// what the server's handshake has read so far (the ClientHello, at its
// hook): what the backend holds parsed of it, beyond the bytes read. It
// fails naming the limit.
//
// The hook runs on the first ClientHello alone, in both backends
// (crypto/tls calls GetConfigForClient once), while a server that answers
// it with a HelloRetryRequest parses a second one, which a client may
// make larger than the first where RFC 8446, Section 4.1.2 lets it
// change (PSK identities, padding) and which the backend then keeps in
// place of the first until the handshake ends. So the meter watches what
// the server writes next (wrote): if it is a HelloRetryRequest, what the
// peer sends until the server writes again counts parsed too (read).
// Before, the second ClientHello counted at its bytes: one of 9,000 PSK
// identities (63 KB, behind a first of 100 bytes) made a pending
// handshake hold some 400 KiB, counted 66 KB.
func (m *peerMeter) countHello() error {
	m.mu.Lock()
	m.b.mu.Lock()
	n := helloParseFactor * m.base.n
	m.b.mu.Unlock()
	m.mu.Unlock()
	if err := m.countParsed(n); err != nil {
		return err
	}
	m.retry.CompareAndSwap(retryNone, retryReply)
	return nil
}

// countParsed counts n bytes more of a ClientHello held parsed, until
// the handshake ends, or fails naming the limit.
func (m *peerMeter) countParsed(n int64) error {
	if err := m.take(int(n)); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counting.Load() && !m.released && m.auth == nil {
		m.b.mu.Lock()
		if m.base.refs > 0 {
			m.hello += n
		}
		m.b.mu.Unlock()
	}
	return nil
}

// read counts n bytes read from the peer (take), and, while they may be
// a second ClientHello (see countHello), what the backend holds parsed
// of them.
func (m *peerMeter) read(n int) error {
	if err := m.take(n); err != nil {
		return err
	}
	if m.retry.Load() != retryHello {
		return nil
	}
	m.mu.Lock()
	m.retryRead = true
	m.mu.Unlock()
	return m.countParsed(helloParseFactor * int64(n))
}

// helloRetryPrefix is how a HelloRetryRequest starts on the wire: a
// handshake record's header, a ServerHello's header and legacy_version,
// and the random that marks it (RFC 8446, Section 4.1.3); 0 bytes are
// any.
var helloRetryPrefix = func() []byte {
	hrr := sha256.Sum256([]byte("HelloRetryRequest"))
	return append([]byte{recordTypeHandshake, 0, 0, 0, 0, typeServerHello, 0, 0, 0, 0, 0}, hrr[:]...)
}()

const (
	recordTypeHandshake = 22
	typeServerHello     = 2
)

// wrote looks at p, which a server's handshake writes while retry is
// set: the first bytes written after the ClientHello hook tell whether
// they are a HelloRetryRequest, and a write after a second ClientHello
// was read ends the count of it as parsed.
func (m *peerMeter) wrote(p []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.retry.Load() {
	case retryReply:
		for _, c := range p {
			i := len(m.reply)
			if i == len(helloRetryPrefix) {
				break
			}
			if want := helloRetryPrefix[i]; want != 0 && c != want {
				// A ServerHello, an alert: no second ClientHello.
				m.retry.Store(retryNone)
				m.reply = nil
				return
			}
			m.reply = append(m.reply, c)
		}
		if len(m.reply) == len(helloRetryPrefix) {
			m.retry.Store(retryHello)
			m.reply = nil
		}
	case retryHello:
		if m.retryRead {
			m.retry.Store(retryNone)
		}
	}
}

// share returns chain, the handshake's peer chain, with a share of what
// the handshake counted.
func (m *peerMeter) share(chain [][]byte) *peerChain {
	if m == nil {
		return &peerChain{chain: chain}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return &peerChain{chain: chain, hold: m.base.acquire()}
}

// sharePost returns chain, the one the last completed post-handshake
// authentication received, with a share of what it counted.
func (m *peerMeter) sharePost(chain [][]byte) *peerChain {
	if m == nil {
		return &peerChain{chain: chain}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return &peerChain{chain: chain, hold: m.post.acquire()}
}

// startAuth counts what the peer sends from now until endAuth: a
// post-handshake authentication, whose answer carries the client's chain.
// appRead, if not nil, is the backend's count of the application data
// records it read (backends.ApplicationDataCounter), which are taken out.
// At most one runs at a time.
func (m *peerMeter) startAuth(appRead func() int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.released || m.err != nil {
		return
	}
	m.auth = &peerHold{b: m.b, refs: 1}
	m.appRead = appRead
	if appRead != nil {
		m.appSeen = appRead()
	}
	m.counting.Store(true)
}

// endAuth ends the count of a post-handshake authentication. If it
// completed (ok), what it counted replaces what the previous one did, and
// chain comes back with a share of it; otherwise its bytes return. It
// returns the limit's error if the limit stopped it.
func (m *peerMeter) endAuth(ok bool, chain [][]byte) (*peerChain, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counting.Store(false)
	if !m.released {
		m.b.mu.Lock()
		m.creditAppDataLocked()
		m.b.mu.Unlock()
	}
	auth := m.auth
	m.auth, m.appRead = nil, nil
	if auth == nil || m.released || !ok || m.err != nil {
		auth.put()
		return nil, m.err
	}
	m.post.put()
	m.post = auth
	return &peerChain{chain: chain, hold: auth.acquire()}, nil
}

// holdBacklog makes the connection's backlog n bytes of the count (see
// backends.PeerBacklogCounter), or fails naming the limit if that would
// cross it, keeping what it held. A peer that, once its handshake
// completed, sent a handshake message in pieces and never its last
// byte made each connection hold it whole, 256 KiB for a Certificate
// to crypto/tls (some 560 KiB of heap), uncounted.
func (m *peerMeter) holdBacklog(n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.released {
		return nil
	}
	b := m.b
	b.mu.Lock()
	defer b.mu.Unlock()
	d := n - m.backlog
	if used := b.used + d; d > 0 && used > b.limit {
		b.caps.Refused(capreport.PeerCertBytes, b.limit)
		return fmt.Errorf("%w: a TLS peer of the guest sent %d bytes after its handshake that the host holds with no data coming of them (a handshake message in pieces), and the guest's peers would make the host hold %d bytes, more than the %d allowed (tlshost.Config.PeerCertBytes, wasitls run --max-peer-cert-bytes)", ErrPeerCertBytes, n, used, b.limit)
	}
	b.used += d
	m.backlog = n
	return nil
}

// release lets go of the connection's share of what it counted.
func (m *peerMeter) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.released {
		return
	}
	m.counting.Store(false)
	m.released = true
	m.b.mu.Lock()
	m.b.used -= m.backlog
	m.backlog = 0
	m.b.mu.Unlock()
	m.base.put()
	m.post.put()
	m.auth.put()
	m.auth = nil // a running authentication's bytes go back now, not at endAuth
}

// certs is the chain, nil for none.
func (c *peerChain) certs() [][]byte {
	if c == nil {
		return nil
	}
	return c.chain
}
