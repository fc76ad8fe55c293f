package sockets

import (
	"sync"
	"sync/atomic"
)

// A Pool is a budget that the guests of a process share, where a
// per-guest limit alone would let enough guests together exhaust what
// the process has: descriptors ([ProcessSockets], the descriptor pool,
// named for the sockets it first bounded) and name lookups in flight
// ([ProcessLookups]). Each guest given a pool (Stack.SetSocketPool,
// SetLookupPool) takes one unit from it, through its [Share], for each
// descriptor or lookup it counts against its own limit, at the same
// moment, and gives it back at the same moment it gives back its own
// count: a Pool is never asked for more than the guests' own limits
// allow, and every unit returns exactly once, on the path that returns
// the guest's count, whether the guest dropped it, trapped or was
// closed. A descriptor pool's units are the guest's sockets (a socket
// dropped and its connection closed), the connection each listener of
// the guest accepts next (see TCPSocket's accept), and the host files
// and directories its filesystem.FS holds open (closed; the runtime
// hands the FS the guest's share); a lookup pool's, its lookups (their
// resolution ended).
//
// # Fairness
//
// Units are taken first come, first served, with one exception that
// keeps one guest, or a few, from starving the others: the last Spare
// units of the limit go only to a stack that holds fewer than Floor
// units of the pool. Guests that want many fill the pool up to
// Limit-Spare; a guest wanting a few still gets them, up to Floor, while
// the spare part lasts. Nothing is reserved for a guest that holds
// nothing: thousands of idle guests take no part of the pool.
//
// Its methods are safe for concurrent use.
type Pool struct {
	limit, spare, floor int64
	used                atomic.Int64
}

// NewPool returns a pool of limit units (at least 1), of which the last
// spare (at most limit-1) go only to stacks that hold fewer than floor.
func NewPool(limit, spare, floor int) *Pool {
	l := max(int64(limit), 1)
	return &Pool{limit: l, spare: min(max(int64(spare), 0), l-1), floor: max(int64(floor), 0)}
}

// Limit is the most units the pool's stacks hold together.
func (p *Pool) Limit() int { return int(p.limit) }

// Spare is how many units, at the end of the limit, go only to stacks
// holding fewer than Floor.
func (p *Pool) Spare() int { return int(p.spare) }

// Floor is how many units a stack may take from the spare part.
func (p *Pool) Floor() int { return int(p.floor) }

// Used is how many units the pool's stacks hold now.
func (p *Pool) Used() int { return int(p.used.Load()) }

// take takes one unit for a stack holding held of them, or reports
// false. The count never passes the limit, not even for a moment.
func (p *Pool) take(held int64) bool {
	for {
		n := p.used.Load()
		if n >= p.limit || (n >= p.limit-p.spare && held >= p.floor) {
			return false
		}
		if p.used.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// put gives back one unit taken.
func (p *Pool) put() { p.used.Add(-1) }

// A Share is what one guest holds of a pool (a nil pool: no budget,
// every Take succeeds). A guest's descriptors all take their units
// through one share, whatever holds them: its sockets (the Stack's,
// Stack.Descriptors), the connection each listener of its accepts next,
// and its open files and directories (the runtime hands
// the same share to the guest's filesystem.FS), so that the pool's floor
// is the guest's, not each kind's. Its methods are safe for concurrent
// use.
type Share struct {
	pool *Pool
	held atomic.Int64
}

// NewShare returns a guest's share of p (nil: no budget).
func NewShare(p *Pool) *Share { return &Share{pool: p} }

// Take takes one unit of the pool for the guest, or reports false.
func (s *Share) Take() bool {
	if s.pool == nil {
		return true
	}
	// held is the guest's own count: between its load and the pool's
	// take another of the guest's goroutines (an accept goroutine) may
	// take one too, so a guest can take Floor+1 of the spare part at
	// most once per goroutine it runs, never past the limit.
	if !s.pool.take(s.held.Load()) {
		return false
	}
	s.held.Add(1)
	return true
}

// Put gives back one unit Take took.
func (s *Share) Put() {
	if s.pool == nil {
		return
	}
	s.held.Add(-1)
	s.pool.put()
}

// Held is how many units of the pool the guest holds.
func (s *Share) Held() int { return int(s.held.Load()) }

// Limit is the pool's Limit, 0 without a pool: what a refusal names.
func (s *Share) Limit() int {
	if s.pool == nil {
		return 0
	}
	return s.pool.Limit()
}

// DescriptorReserve is how many of the process's descriptors
// (RLIMIT_NOFILE) the default descriptor pool leaves to the host: an
// eighth of the limit, at least 512 or, under 1,024, half of it. What
// the pool cannot count lives there: the host's own files and
// connections; the guests' preopens (two descriptors for each of a
// guest instance's, wasi:filesystem's and wasi_snapshot_preview1's
// handle on it), which the embedder chooses; the one or two a host call
// of a guest holds while it runs (a rename's two directories, the file
// a removal holds); and the resolver's DNS sockets, which it opens
// itself (the C library's inside getaddrinfo, where nothing of the
// host's sees them), DNSSocketsPerLookup for each lookup in flight: the
// process's lookup pool is sized so that those take half the reserve at
// most (ProcessLookups), leaving the host the other half.
func DescriptorReserve(nofile int) int {
	return max(nofile/8, min(512, nofile/2))
}

// DNSSocketsPerLookup is how many descriptors a name lookup in flight
// holds at most: Go's resolver asks for the A and AAAA records at once,
// a socket each (TCP after UDP, never beside it), the C library's one
// socket or two.
const DNSSocketsPerLookup = 2

// lookupsFor is the default lookup pool's size under the descriptor
// limit nofile: DefaultLookupPool, or fewer where their DNS sockets
// would take more than half of DescriptorReserve(nofile).
func lookupsFor(nofile int) int {
	return max(1, min(DefaultLookupPool, DescriptorReserve(nofile)/2/DNSSocketsPerLookup))
}

// DefaultSocketFloor is the Floor of the default descriptor pool: a
// guest holding fewer descriptors (sockets and files together) gets one
// from its spare part.
const DefaultSocketFloor = 16

// DefaultLookupPool is the Limit of the default lookup pool: about half
// the 500 lookups Go lets run on the C library's resolver at once in a
// process (fewer under an RLIMIT_NOFILE below 530), each on a thread
// until getaddrinfo returns, past which every lookup of the process, the
// host's own among them, waits for one to end. Go uses that resolver
// where its own cannot do what the host's configuration asks
// (nsswitch.conf's mdns, myhostname, systemd-resolved; GODEBUG
// netdns=cgo); with its own, a lookup holds a goroutine. Either way it
// holds up to DNSSocketsPerLookup DNS sockets, which DescriptorReserve
// holds: under a descriptor limit whose reserve is less than 1,024, the
// process's lookup pool is smaller (ProcessLookups).
const DefaultLookupPool = 256

// DefaultLookupFloor is the Floor of the default lookup pool.
const DefaultLookupFloor = 2

// NewSocketPool returns a descriptor pool of limit units shaped as the
// process's: an eighth of it spare, DefaultSocketFloor the floor.
func NewSocketPool(limit int) *Pool { return NewPool(limit, limit/8, DefaultSocketFloor) }

// NewLookupPool returns a lookup pool of limit units shaped as the
// process's: a quarter of it spare, DefaultLookupFloor the floor.
func NewLookupPool(limit int) *Pool { return NewPool(limit, limit/4, DefaultLookupFloor) }

var (
	processSockets = sync.OnceValue(func() *Pool {
		n := fileLimit()
		return NewSocketPool(n - DescriptorReserve(n))
	})
	processLookups = sync.OnceValue(func() *Pool { return NewLookupPool(lookupsFor(fileLimit())) })
)

// ProcessSockets returns the process's descriptor pool, which the
// sockets and files of every guest of a runtime that names no other draw
// from: sized, at its first use, from the soft RLIMIT_NOFILE then (Go
// raises it to the hard limit as the process starts), less
// DescriptorReserve, an eighth of it spare; 16,384 units where the
// system has no such limit.
func ProcessSockets() *Pool { return processSockets() }

// ProcessLookups returns the process's lookup pool, which every stack of
// a runtime that names no other draws from: DefaultLookupPool lookups in
// flight, or, sized at its first use from the soft RLIMIT_NOFILE as
// ProcessSockets is, as many as DNSSocketsPerLookup sockets each fit in
// half of DescriptorReserve where that is fewer (an eighth of the limit
// under 1,024 descriptors, 32 under 256; 128 under 1,024 to 4,096; a
// 32nd of the limit up to 8,192), a quarter of them spare,
// DefaultLookupFloor the floor.
func ProcessLookups() *Pool { return processLookups() }

// defaultFileLimit sizes the process's pools where the process's
// descriptor limit cannot be read.
const defaultFileLimit = 16384
