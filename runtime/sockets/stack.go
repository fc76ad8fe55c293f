package sockets

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/internal/capreport"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// Family is wasi:sockets/network's ip-address-family.
type Family = network.IPAddressFamily

// The two address families.
const (
	IPv4 = network.IPAddressFamilyIPv4
	IPv6 = network.IPAddressFamilyIPv6
)

func tcpNetwork(f Family) string {
	if f == IPv4 {
		return "tcp4"
	}
	return "tcp6"
}

// FamilyOf returns the family of an address as a guest writes it: IPv4 for
// a 4-byte address, IPv6 for a 16-byte one (IPv4-mapped included).
func FamilyOf(ip netip.Addr) Family {
	if ip.Is4() {
		return IPv4
	}
	return IPv6
}

// A Stack is the network one guest instance sees. It is safe for
// concurrent use.
type Stack struct {
	policy *Policy
	grants grants
	dialer net.Dialer // template; a zero value dials directly

	limit       int64        // most sockets alive at once
	live        atomic.Int64 // sockets alive: not dropped, or connection still open
	socketShare Share        // of the process's (or the runtime's) descriptor pool: one a socket, the connection a listener accepts next, or a file of the guest's filesystem.FS
	lookupShare Share        // of the lookup pool: one a lookup running

	guestID   uint64 // SetGuest's, for Denial
	guestName string

	maxDatagram, datagramQueue int          // UDP limits; zero means the defaults
	datagramBytes              int64        // most bytes of datagrams queued, all sockets; zero: the default
	queued                     atomic.Int64 // bytes of datagrams queued

	sendLinger time.Duration // how long a dropped connection's unsent bytes are tried; zero: the default
	unsentOnce sync.Once
	unsentMax  int64                // SetUnsentBytes; zero: the default
	unsent     *wasiio.UnsentBudget // the TCP connections' unsent bytes, made on first use

	resolver    *net.Resolver // SetResolver's; nil: net.DefaultResolver (see lookupResolver)
	logger      atomic.Pointer[slog.Logger]
	dialPanic   atomic.Bool  // a panic of the resolver's Dial was logged
	lookupLimit int64        // most name lookups running at once
	lookups     atomic.Int64 // name lookups running
	addrLimit   int64        // most addresses lookups' answers hold unread; zero: the default
	addrsHeld   atomic.Int64 // addresses lookups' answers hold unread

	caps *capreport.Reporter // told of each refusal for a limit; may be nil
}

// SetCapReporter sets the reporter told of each call the stack refuses
// for one of its limits (the runtime's log of the first of each).
func (s *Stack) SetCapReporter(r *capreport.Reporter) {
	s.caps = r
	s.grants.mu.Lock()
	s.grants.caps = r
	s.grants.mu.Unlock()
}

// SetSendLinger sets how long a TCP connection's output stream, once
// dropped, keeps trying to deliver what it holds to a peer that does not
// read (d > 0; wasiio.DefaultSendLinger otherwise). Until then the socket
// is held and counts against the socket limit.
func (s *Stack) SetSendLinger(d time.Duration) { s.sendLinger = d }

// SetUnsentBytes sets how many bytes the guest's TCP connections may
// hold unsent together, for peers that do not read, beyond
// wasiio.UnsentFloor each (n > 0; wasiio.DefaultUnsentBytes otherwise).
// Short of it, check-write grants less, down to what a connection's floor
// covers (see wasiio.UnsentBudget). The first shortage is reported
// (capreport).
func (s *Stack) SetUnsentBytes(n int64) { s.unsentMax = n }

// unsentBudget is the budget of the guest's TCP connections' unsent
// bytes.
func (s *Stack) unsentBudget() *wasiio.UnsentBudget {
	s.unsentOnce.Do(func() {
		limit := s.unsentMax
		if limit <= 0 {
			limit = wasiio.DefaultUnsentBytes
		}
		s.unsent = wasiio.NewUnsentBudget(limit, func() { s.caps.Refused(capreport.UnsentBytes, limit) })
	})
	return s.unsent
}

// UnsentBytes is what the guest's TCP connections count against
// SetUnsentBytes now: what they hold unsent beyond their floors, and
// the room their permits reserve.
func (s *Stack) UnsentBytes() int64 { return s.unsentBudget().Used() }

// DefaultSocketLimit is how many sockets a guest instance may hold at once
// unless SetSocketLimit says otherwise.
const DefaultSocketLimit = 4096

// NewStack returns the stack of one guest instance under policy (nil
// denies everything).
func NewStack(policy *Policy) *Stack {
	s := &Stack{policy: policy, limit: DefaultSocketLimit, lookupLimit: DefaultLookupLimit}
	s.socketShare.pool, s.lookupShare.pool = ProcessSockets(), ProcessLookups()
	return s
}

// SetSocketPool sets the pool of descriptors the stack's sockets draw
// from besides its own limit (nil: ProcessSockets, the default), and
// with them whatever else takes its units through Descriptors. Set it
// before the guest runs.
func (s *Stack) SetSocketPool(p *Pool) {
	if p == nil {
		p = ProcessSockets()
	}
	s.socketShare.pool = p
}

// SetLookupPool sets the pool the stack's name lookups draw from besides
// its own limit (nil: ProcessLookups, the default). Set it before the
// guest runs.
func (s *Stack) SetLookupPool(p *Pool) {
	if p == nil {
		p = ProcessLookups()
	}
	s.lookupShare.pool = p
}

// SetGuest names the guest the stack belongs to in the Denials its
// policy reports: id is the runtime's number for it, name its module
// name ("" for an anonymous one).
func (s *Stack) SetGuest(id uint64, name string) { s.guestID, s.guestName = id, name }

// denied reports d, naming the stack's guest, to the policy's OnDeny.
func (s *Stack) denied(d Denial) {
	d.GuestID, d.GuestName = s.guestID, s.guestName
	s.policy.denied(d)
}

// SetSocketLimit sets how many sockets the instance may hold at once. A
// socket counts from its creation (or, accepted, from when the host
// queued it for the guest's accept) until it is dropped and its
// connection, shared with its streams, is closed. Beyond the limit,
// create-tcp-socket fails with new-socket-limit, and a listener's host
// holds one connection past it (accept fails with new-socket-limit until
// there is room) and accepts no more, so a guest cannot exhaust the
// host's file descriptors.
func (s *Stack) SetSocketLimit(n int) { s.limit = int64(n) }

// acquire counts one more socket, against the stack's limit and its
// socket pool, or fails with new-socket-limit: a call of the guest's was
// refused (capreport).
func (s *Stack) acquire() error {
	switch s.tryAcquire() {
	case overLimit:
		s.caps.Refused(capreport.Sockets, s.limit)
		return NewSocketLimit
	case overPool:
		s.caps.Refused(capreport.SocketPool, s.socketShare.pool.Limit())
		return NewSocketLimit
	}
	return nil
}

// What tryAcquire found.
const (
	acquired = iota
	overLimit
	overPool
)

// tryAcquire counts one more socket if the limit and the socket pool
// leave room, and reports whether it did (acquired) or which refused.
// Neither count ever passes its limit, not even for a moment, so a socket
// that fits is never refused for one that did not.
func (s *Stack) tryAcquire() int {
	if !s.tryAcquireOwn() {
		return overLimit
	}
	if !s.socketShare.Take() {
		s.live.Add(-1)
		return overPool
	}
	return acquired
}

// tryAcquireOwn counts one more socket if the stack's own limit leaves
// room.
func (s *Stack) tryAcquireOwn() bool {
	for {
		n := s.live.Load()
		if n >= s.limit {
			return false
		}
		if s.live.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// releaseSocket gives back what acquire took.
func (s *Stack) releaseSocket() {
	s.socketShare.Put()
	s.live.Add(-1)
}

// Hold counts one more socket for something that holds what a connection
// does without being one of the stack's sockets (the wasi:tls host's
// connection over another connection's cleartext), or fails with
// new-socket-limit; release gives it back, once. It holds no descriptor,
// and takes nothing from the socket pool.
func (s *Stack) Hold() (release func(), err error) {
	if !s.tryAcquireOwn() {
		s.caps.Refused(capreport.Sockets, s.limit)
		return nil, NewSocketLimit
	}
	var once sync.Once
	return func() { once.Do(func() { s.live.Add(-1) }) }, nil
}

// PoolSockets reports how many units of its descriptor pool the guest
// holds: its sockets, and whatever else takes units through Descriptors.
func (s *Stack) PoolSockets() int { return s.socketShare.Held() }

// Descriptors is the guest's share of the descriptor pool its sockets
// draw from (SetSocketPool): the runtime hands it to the guest's
// filesystem.FS, so that its open files and directories draw from the
// same budget, under the same floor.
func (s *Stack) Descriptors() *Share { return &s.socketShare }

// Sockets reports how many sockets are alive.
func (s *Stack) Sockets() int { return int(s.live.Load()) }

// SetGrantLimit sets how many addresses the instance's name lookups keep
// connectable: a lookup a connect rule allows makes the addresses it
// returns connectable on the rule's ports, remembered until the instance
// ends; past the limit the least recently granted address is forgotten,
// and connecting to it is access-denied until a lookup returns it again.
// Without a limit, a guest whose lookups return new addresses (a DNS
// server answering a name a wildcard rule allows with as many as it
// likes) would make the host remember every one.
func (s *Stack) SetGrantLimit(n int) {
	s.grants.mu.Lock()
	s.grants.limit = n
	s.grants.mu.Unlock()
}

// Grants reports how many addresses the instance's lookups keep: those
// they made connectable, and those a wildcard rule's lookup returned
// without granting them (loopback, link-local, unspecified, and IPv6
// spellings of IPv4 addresses; see Policy), kept so that a denied
// connect to one names the lookup (Denial.Name).
func (s *Stack) Grants() int { return s.grants.len() }

// Network returns a new network resource on the stack.
func (s *Stack) Network() *Network { return &Network{stack: s} }

func (s *Stack) canConnect(ap netip.AddrPort) bool {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	return s.policy.CanConnect(ap) || s.grants.allows(ap)
}

func (s *Stack) canListen(ap netip.AddrPort) bool {
	return s.policy.CanListen(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

// A Network is the wasi:sockets/network network resource: a capability to
// use the instance's Stack.
type Network struct {
	stack *Stack
}

// Stack returns the stack the network belongs to.
func (n *Network) Stack() *Stack { return n.stack }

// Drop implements cabi.Resource; the stack lives on.
func (n *Network) Drop() {}

// sharedConn is a connection shared by a socket and its two streams,
// closed when the last reference goes. The streams' references are part
// of it, so that a connection costs one allocation, not three.
type sharedConn struct {
	net.Conn
	refs  atomic.Int32
	once  sync.Once
	stack *Stack // told when the connection is closed; nil: none

	// in and out release the references of the input and the output
	// stream.
	in, out releaser
}

func newSharedConn(c net.Conn, refs int32, stack *Stack) *sharedConn {
	s := &sharedConn{Conn: c, stack: stack}
	s.in.c, s.out.c = s, s
	s.refs.Store(refs)
	return s
}

// release drops one reference and closes the connection after the last.
func (s *sharedConn) release() error {
	if s.refs.Add(-1) == 0 {
		var err error
		s.once.Do(func() {
			err = s.Conn.Close()
			if s.stack != nil {
				s.stack.releaseSocket()
			}
		})
		return err
	}
	return nil
}

// releaser is an io.Closer that releases one reference, once.
type releaser struct {
	c    *sharedConn
	once sync.Once
}

func (r *releaser) Close() error {
	var err error
	r.once.Do(func() { err = r.c.release() })
	return err
}

// CloseWrite shuts the write side down, when the connection can.
func (s *sharedConn) CloseWrite() error {
	if c, ok := s.Conn.(interface{ CloseWrite() error }); ok {
		return c.CloseWrite()
	}
	return NotSupported
}

// CloseRead shuts the read side down, when the connection can.
func (s *sharedConn) CloseRead() error {
	if c, ok := s.Conn.(interface{ CloseRead() error }); ok {
		return c.CloseRead()
	}
	return NotSupported
}

// SyscallConn exposes the socket for non-blocking I/O (the wasi:tls
// transport's fast path), when the connection has one.
func (s *sharedConn) SyscallConn() (syscall.RawConn, error) {
	if c, ok := s.Conn.(syscall.Conn); ok {
		return c.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
