package sockets

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/wasitls/wasitls/bindings/wasi/io/poll"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/internal/safelog"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// A ResolveStream is the ip-name-lookup resolve-address-stream resource:
// the addresses of one lookup, handed out one by one.
type ResolveStream struct {
	stack  *Stack
	cancel context.CancelFunc // ends the lookup's DNS connections and dials (lookupResolver)
	done   *wasiio.Signal

	mu      sync.Mutex
	addrs   []netip.Addr
	held    int // of addrs, how many count against the stack's address limit
	err     error
	dropped bool
}

// DefaultLookupLimit is how many name lookups a guest instance may run at
// once unless SetLookupLimit says otherwise.
const DefaultLookupLimit = 64

// SetLookupLimit sets how many name lookups the instance may run at once.
// A lookup counts from resolve-addresses until its resolution ends
// (answered, failed, or ended by dropping its stream), not while the
// guest holds its addresses. Dropping the stream ends Go's resolver's
// queries at once; the system's resolver (getaddrinfo) cannot be
// interrupted, and a lookup on it counts until it returns (see
// lookupResolver). Each one running holds a goroutine and, with Go's
// resolver, a socket to the DNS server, with the system's a thread, for
// up to its timeout: without a limit, a
// guest holding its streams of a name a silent server never answers
// would make the host hold as many as its handle limit allows. Beyond
// the limit resolve-addresses fails with temporary-resolver-failure, and
// so it does past the lookup pool the guests of the process share
// (SetLookupPool).
func (s *Stack) SetLookupLimit(n int) { s.lookupLimit = int64(n) }

// DefaultLookupAddrLimit is how many addresses the answers of a guest
// instance's lookups hold for it, unread, unless SetLookupAddrLimit says
// otherwise.
const DefaultLookupAddrLimit = 4096

// SetLookupAddrLimit sets how many addresses the answers of the
// instance's lookups hold for it, every answer together, from when its
// lookup ends until the guest reads them (resolve-next-address) or drops
// the stream. One answer may hold thousands (a DNS answer over TCP takes
// up to 64 KiB: some 4,000 IPv4 and 2,300 IPv6 addresses, 150 KiB for
// the host to keep): without a limit, a guest looking up a name with such
// an answer again and again, reading none of them, made the host hold
// 150 KiB per stream, as many streams as its handle limit allows. An
// answer with more addresses than there is room for keeps, in its order,
// as many as there is room for (and makes only those connectable); with
// no room, the lookup fails with temporary-resolver-failure. An n of zero
// or less means DefaultLookupAddrLimit.
func (s *Stack) SetLookupAddrLimit(n int) { s.addrLimit = int64(n) }

// LookupAddrs reports how many addresses the answers of the instance's
// lookups hold for it, unread.
func (s *Stack) LookupAddrs() int { return int(s.addrsHeld.Load()) }

// takeAddrs counts up to n more addresses held unread, as many as the
// limit leaves room for, and returns how many it counted.
func (s *Stack) takeAddrs(n int) int {
	limit := s.addrLimit
	if limit <= 0 {
		limit = DefaultLookupAddrLimit
	}
	for {
		held := s.addrsHeld.Load()
		k := min(int64(n), limit-held)
		if k < int64(n) {
			s.caps.Refused(capreport.LookupAddrs, limit)
		}
		if k <= 0 {
			return 0
		}
		if s.addrsHeld.CompareAndSwap(held, held+k) {
			return int(k)
		}
	}
}

// SetResolver sets the resolver of the instance's name lookups; nil (the
// default) means net.DefaultResolver. Each lookup runs on a resolver of
// its own that resolves as r does and closes its DNS connections when it
// ends or its stream is dropped (see lookupResolver).
func (s *Stack) SetResolver(r *net.Resolver) { s.resolver = r }

// SetLogger sets where the first panic of the resolver's Dial (or of a
// connection it returned) is logged, with its stack; nil (the default) means slog.Default().
func (s *Stack) SetLogger(l *slog.Logger) { s.logger.Store(l) }

// A DialPanicError is the failure of a DNS connection whose resolver's
// Dial panicked: the resolver's Dial is the embedder's code, which Go's
// resolver calls on a goroutine of its own, where nothing could recover
// the panic but the Dial the stack gives it (lookupResolver). The
// lookup fails as for any failed Dial.
type DialPanicError struct {
	Value string // the panic's value, on one line, at most safelog.MaxPanicValue bytes
	// Method is the method of the connection Dial returned that panicked
	// ("Read", "Write", ...; see dnsConn), "" for Dial itself.
	Method string
}

func (e *DialPanicError) Error() string {
	if e.Method != "" {
		return "sockets: the " + e.Method + " of the resolver's connection panicked: " + e.Value
	}
	return "sockets: the resolver's Dial panicked: " + e.Value
}

// dialPanicked logs the first of the panics of the resolver's Dial and
// of the connections it returned (dnsConn).
func (s *Stack) dialPanicked(err error, stack []byte) {
	if s.dialPanic.Swap(true) {
		return
	}
	safelog.Log(safelog.OrDefault(s.logger.Load()), slog.LevelError, "runtime: the resolver's Dial or its connection panicked", "err", err, "stack", string(stack))
}

// errLookupDropped fails the DNS connections a lookup would dial after
// its stream was dropped.
var errLookupDropped = errors.New("sockets: the lookup's stream was dropped")

// lookupResolver returns the resolver of one lookup: it resolves as r
// does (nil: net.DefaultResolver), dialing as r dials, and ends each DNS
// connection of Go's resolver, and each dial of one, once the query using
// it ends or lookup does (the guest dropped the lookup's stream, or the
// lookup is over), after which it dials none. Go's resolver does not
// interrupt a read from a DNS server when its lookup is cancelled:
// without the close, the query's goroutine and socket stay until the
// read's timeout (resolv.conf's, 5 s by default, per attempt).
//
// The lookup is not cancelled through its context, which would make
// LookupNetIP return while the resolution goes on: the system's resolver
// (the C library's getaddrinfo, which Go uses where its own cannot do
// what the host's configuration asks, as with nsswitch.conf's mdns or
// myhostname) cannot be interrupted, and holds a thread until it returns.
// A lookup returning at once would leave the lookup limit while that
// thread ran on: a guest dropping its lookups of a name whose server does
// not answer and starting new ones would make the host hold a thread
// each, up to Go's 500 for the whole process, whose lookups, the host's
// and other guests', would then all wait. So the lookup counts until its
// resolution ends. (The resolver's choice between Go's resolver and the
// system's is r's: a Dial function does not change it.)
func lookupResolver(r *net.Resolver, panicked func(err error, stack []byte), lookup context.Context) *net.Resolver {
	if r == nil {
		r = net.DefaultResolver
	}
	dial := r.Dial
	if dial == nil {
		var d net.Dialer // what Go's resolver dials with when r.Dial is nil
		dial = d.DialContext
	}
	return &net.Resolver{
		PreferGo:     r.PreferGo,
		StrictErrors: r.StrictErrors,
		Dial: func(ctx context.Context, network, address string) (c net.Conn, err error) {
			defer func() {
				if v := recover(); v != nil {
					c, err = nil, &DialPanicError{Value: safelog.PanicValue(v)}
					panicked(err, debug.Stack())
				}
			}()
			if lookup.Err() != nil {
				return nil, errLookupDropped
			}
			// Go's resolver cancels the context of each query's
			// connection when the query ends; qctx ends then too, or
			// with the lookup: either way the dial or the connection
			// is done with.
			qctx, cancel := context.WithCancel(ctx)
			stop := context.AfterFunc(lookup, cancel)
			defer func() {
				if c == nil {
					stop()
					cancel()
				}
			}()
			c, err = dial(qctx, network, address)
			if err != nil {
				return nil, err
			}
			if c == nil {
				return nil, errNilConn
			}
			c = guardConn(c, panicked) // see dnsConn
			context.AfterFunc(qctx, func() { stop(); c.Close() })
			return c, nil
		},
	}
}

// Lookups reports how many name lookups are running.
func (s *Stack) Lookups() int { return int(s.lookups.Load()) }

// PoolLookups reports how many units of its lookup pool the stack holds.
func (s *Stack) PoolLookups() int { return int(s.lookupShare.held.Load()) }

// lookupName is how Resolve reads name: a literal address, which
// resolves to itself (dns empty), or the DNS name to look up, normalised;
// ok is false for what is neither (invalid-argument).
func lookupName(name string) (ip netip.Addr, dns string, ok bool) {
	if len(name) > maxNameLen+1 { // a trailing dot may follow
		// Refused before normalizeName copies it: a guest's name can
		// be as long as its memory, a DNS name is not. Nor is an
		// address: before, an IPv6 literal with a zone of megabytes
		// resolved to an address that kept the zone (netip keeps a
		// copy of each distinct zone) for as long as the guest held
		// the stream.
		return ip, "", false
	}
	host := strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, "", true
	}
	name = normalizeName(name)
	if !validName(name) || numericName(name) {
		// A name ending in a number is no DNS name, and no rule names
		// one (ParseRule). Before, a "*" rule handed it to the host's
		// resolver, whose C library reads 127.1 as 127.0.0.1, and
		// other rules refused it with access-denied, the denial
		// naming a rule ParseRule refuses.
		return ip, "", false
	}
	return ip, name, true
}

// Resolve is resolve-addresses. A literal IP address resolves to itself
// without a lookup; a name ending in a number (127.1) is
// invalid-argument; a name resolves only when a connect rule of the policy
// names it (else access-denied), and the addresses found become connectable
// on the rule's ports for this instance. The lookup runs on a goroutine;
// past the lookup limit (SetLookupLimit) it fails with
// temporary-resolver-failure. Its answer keeps as many addresses as the
// address limit leaves room for (SetLookupAddrLimit).
func (s *Stack) Resolve(nw network.Network, name string) (*ResolveStream, error) {
	if n, ok := nw.(*Network); !ok || n.stack != s {
		return nil, InvalidArgument
	}
	ip, name, ok := lookupName(name)
	if !ok {
		return nil, InvalidArgument
	}
	if name == "" {
		// The zone goes: this host uses no scope id (see FromWIT).
		r := &ResolveStream{stack: s, cancel: func() {}, done: wasiio.NewSignal(), addrs: []netip.Addr{ip.WithZone("")}}
		r.done.Fire()
		return r, nil
	}
	rules := s.policy.resolveRules(name)
	if len(rules) == 0 {
		s.denied(Denial{Op: DenyResolve, Name: name})
		return nil, AccessDenied
	}
	if s.lookups.Add(1) > s.lookupLimit {
		s.lookups.Add(-1)
		s.caps.Refused(capreport.Lookups, s.lookupLimit)
		return nil, TemporaryResolverFailure
	}
	if !s.lookupShare.Take() {
		s.lookups.Add(-1)
		s.caps.Refused(capreport.LookupPool, s.lookupShare.pool.Limit())
		return nil, TemporaryResolverFailure
	}
	// lookup ends with a drop, which ends the lookup's DNS connections
	// and dials, not LookupNetIP: the lookup counts until its resolution
	// ends (see lookupResolver).
	lookup, end := context.WithCancel(context.Background())
	resolver := lookupResolver(s.resolver, s.dialPanicked, lookup)
	r := &ResolveStream{stack: s, cancel: end, done: wasiio.NewSignal()}
	go func() {
		defer s.lookups.Add(-1)
		defer s.lookupShare.Put()
		ips, err := resolver.LookupNetIP(context.Background(), "ip", name)
		end()
		r.mu.Lock()
		if err == nil && !r.dropped {
			if ips, err = r.hold(ips); err == nil {
				s.grants.add(name, ips, rules)
				r.addrs = ips
			}
		}
		r.err = err
		r.mu.Unlock()
		r.done.Fire()
	}()
	return r, nil
}

// hold counts the addresses of an answer against the stack's address
// limit and returns those there is room for; r.mu is held.
func (r *ResolveStream) hold(ips []netip.Addr) ([]netip.Addr, error) {
	if len(ips) == 0 {
		return nil, nil
	}
	n := r.stack.takeAddrs(len(ips))
	if n == 0 {
		return nil, TemporaryResolverFailure
	}
	r.held = n
	if n < len(ips) {
		ips = slices.Clone(ips[:n]) // not the whole answer's array
	}
	return ips, nil
}

// release gives back the count of the addresses r holds unread; r.mu is
// held.
func (r *ResolveStream) release() {
	r.stack.addrsHeld.Add(-int64(r.held))
	r.held = 0
}

// ResolveNextAddress is resolve-next-address: the next address, none after
// the last one, or would-block while the lookup runs.
func (r *ResolveStream) ResolveNextAddress(ctx context.Context) (cabi.Option[network.IPAddress], error) {
	addr, ok, err := r.next()
	if err != nil || !ok {
		return cabi.None[network.IPAddress](), err
	}
	return cabi.Some(AddrToWIT(addr)), nil
}

func (r *ResolveStream) next() (addr netip.Addr, ok bool, err error) {
	if !r.done.Fired() {
		return netip.Addr{}, false, WouldBlock
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		err := code(r.err)
		if err == Unknown {
			err = PermanentResolverFailure
		}
		r.err = nil // reported once; then the stream is empty
		return netip.Addr{}, false, err
	}
	if len(r.addrs) == 0 {
		return netip.Addr{}, false, nil
	}
	addr = r.addrs[0].Unmap()
	r.addrs = r.addrs[1:]
	if r.held > 0 {
		r.held--
		r.stack.addrsHeld.Add(-1)
	}
	return addr, true, nil
}

// Subscribe is subscribe: a pollable, child of the stream, ready when the
// lookup finished.
func (r *ResolveStream) Subscribe(ctx context.Context) poll.Pollable {
	return wasiio.NewPollable(r.done, r)
}

// Drop implements cabi.Resource: it cancels the lookup and gives back
// the addresses its answer held.
func (r *ResolveStream) Drop() {
	r.mu.Lock()
	r.dropped = true
	r.release()
	r.addrs = nil
	r.mu.Unlock()
	r.cancel()
}
