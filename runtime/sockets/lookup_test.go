package sockets

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wasitls/wasitls/internal/testnet"
)

// TestResolveDropClosesQueries: dropping a lookup whose DNS server never
// answers closes the resolver's connections to it at once, so its
// goroutines and sockets end with it, not at the resolver's timeout. The
// server's connections here ignore deadlines: only the host's close can
// end their reads. Before, the dropped lookup left the lookup limit at
// once while its queries held a goroutine and a socket each for
// resolv.conf's timeout (5 s by default), so a guest dropping and
// starting lookups held any number of them.
func TestResolveDropClosesQueries(t *testing.T) {
	queried := make(chan struct{}, 16)
	silent := testnet.ServeUDP(t, func([]byte) []byte {
		queried <- struct{}{}
		return nil
	})
	var mu sync.Mutex
	var conns []*net.UDPConn
	p := new(Policy)
	if err := p.AllowConnect("*.silent.test:443"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(p)
	st.SetResolver(&net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", silent)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, c.(*net.UDPConn))
		mu.Unlock()
		return testnet.NoDeadlineConn{UDPConn: c.(*net.UDPConn)}, nil
	}})
	r, err := st.Resolve(st.Network(), "a.silent.test")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-queried:
	case <-time.After(10 * time.Second):
		t.Fatal("the DNS server saw no query")
	}
	if st.Lookups() != 1 {
		t.Fatalf("%d lookups running, want 1", st.Lookups())
	}
	r.Drop()
	// A closed connection refuses a deadline; the resolver set its own
	// on each before its query.
	closed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			if err := c.SetDeadline(time.Time{}); err == nil {
				return false
			}
		}
		return len(conns) > 0
	}
	for deadline := time.Now().Add(10 * time.Second); !closed() || st.Lookups() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the drop: %d lookups running, the DNS connections closed: %v", st.Lookups(), closed())
		}
	}
}

// bigDNS serves DNS on loopback: over UDP every answer is truncated, so
// that Go's resolver asks again over TCP, where an A query is answered
// with a addresses (10.1.x.y) and an AAAA query with aaaa (fd00::x:y),
// the same each time: up to 64 KiB, the most a DNS message takes.
func bigDNS(t *testing.T, a, aaaa int) *net.Resolver {
	t.Helper()
	answer := func(msg []byte, full bool) []byte {
		out, _, err := testnet.DNSAnswer(msg, !full, func(q dnsmessage.Question) []netip.Addr {
			var addrs []netip.Addr
			for i := 0; full && q.Type == dnsmessage.TypeA && i < a; i++ {
				addrs = append(addrs, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}))
			}
			for i := 0; full && q.Type == dnsmessage.TypeAAAA && i < aaaa; i++ {
				addrs = append(addrs, netip.AddrFrom16([16]byte{0: 0xfd, 14: byte(i >> 8), 15: byte(i)}))
			}
			return addrs
		})
		if err != nil {
			t.Errorf("DNS answer: %v", err)
			return nil
		}
		return out
	}
	// Building a full answer takes a while: each is built once per
	// question, then only its ID changes.
	var mu sync.Mutex
	built := map[string][]byte{}
	cached := func(q []byte) []byte {
		if len(q) < 12 {
			return nil
		}
		key := string(q[12:])
		mu.Lock()
		msg, ok := built[key]
		if !ok {
			msg = answer(q, true)
			built[key] = msg
		}
		mu.Unlock()
		if msg == nil {
			return nil
		}
		msg = append([]byte(nil), msg...)
		copy(msg, q[:2])
		return msg
	}
	server := testnet.ServeUDPAndTCP(t, func(q []byte) []byte { return answer(q, false) }, func(c net.Conn) {
		defer c.Close()
		for {
			var l [2]byte
			if _, err := io.ReadFull(c, l[:]); err != nil {
				return
			}
			q := make([]byte, binary.BigEndian.Uint16(l[:]))
			if _, err := io.ReadFull(c, q); err != nil {
				return
			}
			msg := cached(q)
			if msg == nil {
				return
			}
			c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
		}
	})
	return testnet.Resolver(server)
}

// lookup resolves name on st to its end and returns its stream, or the
// error of resolve-addresses or of the answer.
func lookup(t *testing.T, st *Stack, name string) (*ResolveStream, error) {
	t.Helper()
	r, err := st.Resolve(st.Network(), name)
	if err != nil {
		return nil, err
	}
	wait(t, r.done)
	r.mu.Lock()
	err = r.err
	r.mu.Unlock()
	if err != nil {
		_, _, err = r.next()
		r.Drop()
		return nil, err
	}
	return r, nil
}

// TestLookupAddrLimit: the answers of a guest's lookups hold at most the
// stack's address limit for it, unread, every answer together. A DNS
// server on loopback answers each lookup with 6,300 addresses (4,000
// IPv4 and 2,300 IPv6 ones, as many as its 64 KiB answers over TCP
// take). Under the default limit, 10 lookups whose answers the guest
// never reads hold 4,096 addresses: the first answer keeps that many, the
// others fail with temporary-resolver-failure and leave nothing behind
// (a few KiB of heap each, where an answer kept whole is 150 KiB), and
// the heap grows by under a MiB in all. Before the limit each answer
// kept all 6,300 addresses, 150 KiB, for as long as the guest held its
// stream: 40 GiB for its handle limit's worth. Reading addresses and
// dropping streams makes room again; an answer with less room than
// addresses keeps, and grants, the first ones.
//
// Each lookup costs some 100 ms of kernel time: Go's resolver sorts its
// answer (RFC 6724), dialing a UDP socket to each of the 6,300
// addresses to learn its source address. So the refused lookups are few
// and the heap they leave is measured from after the first one, and the
// part about reading and dropping uses answers of 250 addresses.
func TestLookupAddrLimit(t *testing.T) {
	var p Policy
	if err := p.AllowConnect("big.test:443"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	st.SetResolver(bigDNS(t, 4000, 2300))
	before := heapInUse()
	var held []*ResolveStream
	var failed int
	var afterFirst uint64
	const lookups = 10
	for i := range lookups {
		r, err := lookup(t, st, "big.test")
		switch err {
		case nil:
			held = append(held, r)
		case TemporaryResolverFailure:
			failed++
		default:
			t.Fatalf("lookup: %v", err)
		}
		if i == 0 {
			afterFirst = heapInUse()
		}
	}
	after := heapInUse()
	grown, refusedGrown := int64(after)-int64(before), int64(after)-int64(afterFirst)
	t.Logf("heap grew by %d KiB for %d answers held unread, %d KiB of it after the first", grown>>10, lookups, refusedGrown>>10)
	if len(held) != 1 || failed != lookups-1 || st.LookupAddrs() != DefaultLookupAddrLimit {
		t.Fatalf("%d answers held, %d failed, %d addresses held; want 1, %d, %d", len(held), failed, st.LookupAddrs(), lookups-1, DefaultLookupAddrLimit)
	}
	if grown > 2<<20 {
		t.Errorf("the heap grew by %.1f MiB for answers holding %d addresses, want at most 2 MiB", float64(grown)/(1<<20), DefaultLookupAddrLimit)
	}
	// A refused answer kept whole would be 150 KiB: 1.3 MiB for these 9.
	if perRefused := refusedGrown / (lookups - 1); perRefused > 32<<10 {
		t.Errorf("the heap grew by %d KiB per refused lookup, want at most 32 KiB", perRefused>>10)
	}
	if n := len(held[0].addrs); n != DefaultLookupAddrLimit {
		t.Errorf("the answer holds %d addresses, want %d", n, DefaultLookupAddrLimit)
	}
	if st.Grants() != DefaultLookupAddrLimit {
		t.Errorf("%d addresses granted, want the %d kept", st.Grants(), DefaultLookupAddrLimit)
	}
	held[0].Drop()
	if st.LookupAddrs() != 0 {
		t.Fatalf("%d addresses held after the drop", st.LookupAddrs())
	}

	// Under a limit of 100: reading addresses makes room for as many.
	st = NewStack(&p)
	st.SetResolver(bigDNS(t, 200, 50))
	st.SetLookupAddrLimit(100)
	first, err := lookup(t, st, "big.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lookup(t, st, "big.test"); err != TemporaryResolverFailure {
		t.Fatalf("a lookup with no room: %v, want temporary-resolver-failure", err)
	}
	for i := range 10 {
		a, ok, err := first.next()
		if want := netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}); err != nil || !ok || a != want {
			t.Fatalf("address %d: %v %v %v, want %v", i, a, ok, err, want)
		}
	}
	if st.LookupAddrs() != 90 {
		t.Fatalf("%d addresses held after reading 10 of 100, want 90", st.LookupAddrs())
	}
	second, err := lookup(t, st, "big.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(second.addrs) != 10 || st.LookupAddrs() != 100 {
		t.Fatalf("the second answer holds %d addresses, %d in all; want 10 and 100", len(second.addrs), st.LookupAddrs())
	}
	if !st.canConnect(netip.MustParseAddrPort("10.1.0.99:443")) || st.canConnect(netip.MustParseAddrPort("10.1.0.100:443")) {
		t.Error("the grants are not the 100 addresses kept")
	}
	// Literal addresses hold nothing.
	lit, err := st.Resolve(st.Network(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	first.Drop()
	second.Drop()
	lit.Drop()
	if st.LookupAddrs() != 0 {
		t.Fatalf("%d addresses held after every drop", st.LookupAddrs())
	}
}

// heapInUse is the Go heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// stuckConn is a DNS connection whose reads neither a deadline nor Close
// ends, as nothing ends the system resolver's getaddrinfo: a read tells
// reading and waits until release is closed.
type stuckConn struct {
	reading chan<- struct{}
	release <-chan struct{}
}

func (c stuckConn) Read(p []byte) (int, error) {
	select {
	case c.reading <- struct{}{}:
	default:
	}
	<-c.release
	return 0, io.EOF
}

func (stuckConn) Write(p []byte) (int, error)        { return len(p), nil }
func (stuckConn) Close() error                       { return nil }
func (stuckConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (stuckConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (stuckConn) SetDeadline(t time.Time) error      { return nil }
func (stuckConn) SetReadDeadline(t time.Time) error  { return nil }
func (stuckConn) SetWriteDeadline(t time.Time) error { return nil }

// TestResolveDropCountsUntilEnd: a lookup whose resolution cannot be
// interrupted, as the system's resolver's (getaddrinfo, which Go uses
// where its own cannot do what the host's nsswitch.conf asks) cannot,
// counts against the lookup limit until that resolution ends, its stream
// dropped or not: the next lookup past the limit fails with
// temporary-resolver-failure meanwhile. Before, dropping the stream
// cancelled LookupNetIP, which returned at once while the resolution went
// on: the lookup left the limit at once, and a guest dropping lookups of
// a name whose server does not answer and starting new ones made the host
// hold a thread each in getaddrinfo (100 under a limit of 4, in a network
// namespace whose DNS server on loopback was silent), up to Go's 500 for
// the whole process, whose lookups all waited then.
func TestResolveDropCountsUntilEnd(t *testing.T) {
	reading := make(chan struct{}, 16)
	release := make(chan struct{})
	p := new(Policy)
	if err := p.AllowConnect("*.stuck.test:443"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(p)
	st.SetLookupLimit(1)
	st.SetResolver(&net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return stuckConn{reading: reading, release: release}, nil
	}})
	r, err := st.Resolve(st.Network(), "a.stuck.test")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-reading:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the resolver read nothing")
	}
	r.Drop()
	// Before, the count fell to 0 as soon as the cancelled LookupNetIP
	// returned; give it that while.
	for i := 0; i < 40; i++ {
		if n := st.Lookups(); n != 1 {
			close(release)
			t.Fatalf("%d lookups counted after the drop, its resolution still running; want 1", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := st.Resolve(st.Network(), "b.stuck.test"); err != TemporaryResolverFailure {
		close(release)
		t.Fatalf("a lookup past the limit while the dropped one still resolves: %v, want temporary-resolver-failure", err)
	}
	close(release)
	waitFor(t, "the dropped lookup's end", func() bool { return st.Lookups() == 0 })
	r, err = st.Resolve(st.Network(), "c.stuck.test")
	if err != nil {
		t.Fatalf("a lookup once the dropped one ended: %v", err)
	}
	r.Drop()
}

// TestResolveDropEndsDial: dropping a lookup ends a dial of its
// resolver's in progress at once (its context cancelled), not at the
// query's timeout, though the lookup itself is not cancelled (see
// TestResolveDropCountsUntilEnd); it dials no more after, and leaves the
// lookup limit.
func TestResolveDropEndsDial(t *testing.T) {
	dialing := make(chan struct{}, 16)
	ended := make(chan error, 16)
	var dials atomic.Int64
	p := new(Policy)
	if err := p.AllowConnect("*.blackhole.test:443"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(p)
	st.SetResolver(&net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		dials.Add(1)
		dialing <- struct{}{}
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}})
	r, err := st.Resolve(st.Network(), "a.blackhole.test")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-dialing:
	case <-time.After(10 * time.Second):
		t.Fatal("the resolver dialed nothing")
	}
	r.Drop()
	select {
	case err := <-ended:
		if err != context.Canceled {
			t.Fatalf("the dial in progress ended with %v, want context.Canceled (by the drop)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the dial in progress did not end after the drop")
	}
	waitFor(t, "the dropped lookup's end", func() bool { return st.Lookups() == 0 })
	// One dial for each query (A and AAAA) at most: none after the drop,
	// where Go's resolver would try each again, once per attempt.
	if n := dials.Load(); n > 2 {
		t.Fatalf("the lookup dialed %d times, want at most 2: it dialed again after the drop", n)
	}
}
