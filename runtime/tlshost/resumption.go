package tlshost

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime"
)

// Session resumption.
//
// The host keeps everything resumption needs; a guest only turns it off
// (or back on) for one connection, with configure-client-resumption or
// configure-server-resumption in wasitls:tls/extensions@0.3.0, and asks
// whether a connection resumed (client-session-resumed,
// server-session-resumed). Sessions, tickets, ticket keys and resumption
// secrets never enter guest memory.
//
//   - Client sessions live in a cache per guest (a
//     backends.LRUSessionCache in its runtime.Guest, like its pending
//     handshakes), of at most Config.SessionCacheSize sessions, keyed by
//     the peer's port and the server name (peerSessions). Per guest, not
//     per host: a session carries what the connection that made it
//     verified and chose, which must not serve another guest. Per port,
//     not per name alone, as browsers key theirs: a session is offered
//     only to the service that issued it, never to another that answers
//     to the name on another port (which may be another party's and
//     would learn the ticket, or, sharing the first's ticket keys, resume
//     it without presenting its own certificate). The cache goes with the
//     guest. Backends keep no session of a connection that presented a
//     client certificate: a resumption sends none, and would present that
//     one for a later connection whatever the guest chose for it.
//   - Server tickets are sealed with the host's ticket keys (ticketKeys),
//     one set for all guests of the host, so that a ticket resumes at
//     any of them as at a server farm sharing its keys: a key seals for
//     Config.TicketKeyRotation, then opens for as long again, then is
//     dropped. At most two keys are ever held. Both backends bind a ticket
//     to the certificate the server presented and resume it only at a
//     server holding that identity, so that a guest holding the shared
//     keys cannot pass for another guest's server.
//
// Both are on by default. A negative Config.SessionCacheSize or
// TicketKeyRotation turns the client or the server side off for every
// guest, and a guest cannot turn it back on.

// ticketKeys is the host's ring of session-ticket keys, made from
// crypto/rand as they are needed.
type ticketKeys struct {
	rotation time.Duration
	opens    time.Duration // two rotations, or the longest Duration if they overflow one
	now      func() time.Time

	mu   sync.Mutex
	keys []timedKey // newest first, at most two
}

type timedKey struct {
	key     backends.TicketKey
	created time.Time
}

// newTicketKeys returns a ring rotated every rotation by the clock now
// (time.Now when nil).
func newTicketKeys(rotation time.Duration, now func() time.Time) *ticketKeys {
	if now == nil {
		now = time.Now
	}
	opens := 2 * rotation
	if opens < rotation {
		opens = math.MaxInt64
	}
	return &ticketKeys{rotation: rotation, opens: opens, now: now}
}

// current returns the keys in force, newest first: the newest seals, all
// of them open. It makes a new key when the newest has sealed for a
// rotation, and drops keys older than two rotations.
func (k *ticketKeys) current() []backends.TicketKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if len(k.keys) == 0 || !now.Before(k.keys[0].created.Add(k.rotation)) {
		var fresh backends.TicketKey
		if _, err := rand.Read(fresh[:]); err != nil {
			// crypto/rand does not fail on supported platforms; without a
			// key the connection issues no ticket and resumes nothing.
			return nil
		}
		k.keys = append([]timedKey{{fresh, now}}, k.keys...)
	}
	live := k.keys[:0]
	for _, tk := range k.keys {
		if now.Before(tk.created.Add(k.opens)) {
			live = append(live, tk)
		}
	}
	k.keys = live[:min(len(live), 2)]
	out := make([]backends.TicketKey, len(k.keys))
	for i, tk := range k.keys {
		out[i] = tk.key
	}
	return out
}

// sessionsKey is the key of a guest's client session cache in its
// runtime.Guest.
type sessionsKey struct{ h *Host }

// sessions returns the client session cache of the guest of a host call,
// made on first use; nil when the host keeps no client sessions or the
// call comes from outside any runtime.Guest.
func (h *Host) sessions(ctx context.Context) backends.SessionCache {
	size := h.cfg.sessionCacheSize()
	g := runtime.GuestFrom(ctx)
	if size == 0 || g == nil {
		return nil
	}
	h.sessionsMu.Lock()
	defer h.sessionsMu.Unlock()
	return guestValue(g, sessionsKey{h}, func(*runtime.Guest) *backends.LRUSessionCache { return backends.NewLRUSessionCache(size) })
}

// peerSessions is a guest's client session cache as one connection sees
// it: the backend's keys (the server name) under the port of the
// connection's peer, so that a session is offered only to a server on the
// port that issued it. The port comes first, with a NUL after it, so that
// no server name a guest connects to can spell another port's key.
type peerSessions struct {
	cache  backends.SessionCache
	prefix string
}

// sessionsFor returns cache as a connection to peer uses it; nil for nil.
// A transport that is no TCP socket (a connection tunnelled through
// another's cleartext, streams of another kind) keys under "stream", one
// prefix for every such transport, apart from every port.
func sessionsFor(cache backends.SessionCache, peer net.Addr) backends.SessionCache {
	if cache == nil {
		return nil
	}
	prefix := "stream\x00"
	if a, ok := peer.(*net.TCPAddr); ok {
		prefix = strconv.Itoa(a.Port) + "\x00"
	}
	return peerSessions{cache, prefix}
}

func (p peerSessions) Get(key string) (any, bool) { return p.cache.Get(p.prefix + key) }

func (p peerSessions) Put(key string, session any) { p.cache.Put(p.prefix+key, session) }

// serverTicketKeys is what a server connection seals tickets with, nil
// when the host issues none.
func (h *Host) serverTicketKeys() func() []backends.TicketKey {
	if h.tickets == nil {
		return nil
	}
	return h.tickets.current
}

var errNoResumption = errors.New("the host allows no session resumption")
