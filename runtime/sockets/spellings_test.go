package sockets

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/udp"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/testnet"
)

// The tests here try, as a guest would, the spellings of an address, a
// port or a name that could reach what the policy does not allow: each
// must be refused before anything is dialed, bound or looked up.

// countingListener listens on addr and counts the connections it accepts.
func countingListener(t *testing.T, network, addr string) (netip.AddrPort, func() int) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan struct{}, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			accepted <- struct{}{}
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort(), func() int { return len(accepted) }
}

// tryConnect starts a connect from a new socket of family to ap and, if
// the start succeeds, finishes it; it returns the first error.
func tryConnect(t *testing.T, st *Stack, family Family, ap netip.AddrPort) error {
	t.Helper()
	s, err := st.NewTCPSocket(family)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.StartConnect(bg, st.Network(), ToWIT(ap)); err != nil {
		return err
	}
	wait(t, s)
	pair, err := s.FinishConnect(bg)
	if err == nil {
		pair.F0.Drop()
		pair.F1.Drop()
	}
	return err
}

// TestConnectSpellings: a guest allowed one loopback address and port
// reaches nothing else through another spelling of it, and the wildcard
// addresses, which Linux connects to loopback, are refused as connect
// targets even when a rule names them.
func TestConnectSpellings(t *testing.T) {
	v4, count4 := countingListener(t, "tcp4", "127.0.0.1:0")
	v6, count6 := countingListener(t, "tcp6", "[::1]:0")
	port := v4.Port()
	at := func(ip string, port uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr(ip), port)
	}

	var p Policy
	if err := p.AllowConnect(v4.String()); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	for _, c := range []struct {
		family Family
		ap     netip.AddrPort
		want   error
	}{
		{IPv6, at("::ffff:127.0.0.1", port), InvalidArgument}, // IPv4-mapped
		{IPv6, at("::127.0.0.1", port), AccessDenied},         // IPv4-compatible
		{IPv6, at("::1", port), AccessDenied},
		{IPv6, at("::", port), InvalidArgument},
		{IPv4, at("0.0.0.0", port), InvalidArgument},
		{IPv4, at("127.0.0.2", port), AccessDenied},
		{IPv4, at("127.0.0.1", port+1), AccessDenied},
		{IPv4, at("127.0.0.1", 0), InvalidArgument},
		{IPv4, at("255.255.255.255", port), InvalidArgument},
		{IPv4, at("224.0.0.1", port), InvalidArgument},
		{IPv6, at("ff02::1", port), InvalidArgument},
		{IPv6, at("127.0.0.1", port), InvalidArgument}, // 4-byte address, IPv6 socket
		{IPv4, at("::1", port), InvalidArgument},
	} {
		if err := tryConnect(t, st, c.family, c.ap); err != c.want {
			t.Errorf("connect (%v socket) to %v: %v, want %v", c.family, c.ap, err, c.want)
		}
	}

	// Rules naming the wildcard addresses allow nothing: connecting to
	// 0.0.0.0 or :: would reach the loopback listeners.
	var wild Policy
	if err := wild.AllowConnect("0.0.0.0:*", "[::]:*", "0.0.0.0/32:*", "[::/128]:*"); err != nil {
		t.Fatal(err)
	}
	st = NewStack(&wild)
	if err := tryConnect(t, st, IPv4, at("0.0.0.0", v4.Port())); err != InvalidArgument {
		t.Errorf("connect to 0.0.0.0 under a rule naming it: %v, want invalid-argument", err)
	}
	if err := tryConnect(t, st, IPv6, at("::", v6.Port())); err != InvalidArgument {
		t.Errorf("connect to :: under a rule naming it: %v, want invalid-argument", err)
	}

	// A rule written as an IPv4-mapped range is the IPv4 range, and an
	// IPv6 socket cannot use a mapped address; an IPv6 range allows no
	// IPv4 address.
	var mapped Policy
	if err := mapped.AllowConnect("[::ffff:127.0.0.0/120]:*", "[::/0]:*"); err != nil {
		t.Fatal(err)
	}
	st = NewStack(&mapped)
	if !mapped.CanConnect(v4) || mapped.CanConnect(at("127.0.1.1", port)) || mapped.CanConnect(at("10.0.0.1", port)) {
		t.Errorf("[::ffff:127.0.0.0/120] is not 127.0.0.0/24")
	}
	if err := tryConnect(t, st, IPv6, at("::ffff:127.0.0.1", port)); err != InvalidArgument {
		t.Errorf("IPv4-mapped connect under an IPv4-mapped range: %v, want invalid-argument", err)
	}
	if err := tryConnect(t, st, IPv6, at("::ffff:10.0.0.1", port)); err != InvalidArgument {
		t.Errorf("IPv4-mapped connect under [::/0]: %v, want invalid-argument", err)
	}

	// Only now the allowed address, to show the listeners would have
	// counted a connection.
	if err := tryConnect(t, NewStack(&p), IPv4, v4); err != nil {
		t.Fatalf("the allowed connect: %v", err)
	}
	waitFor(t, "the allowed connection", func() bool { return count4() > 0 })
	time.Sleep(20 * time.Millisecond)
	if n4, n6 := count4(), count6(); n4 != 1 || n6 != 0 {
		t.Fatalf("the listeners accepted %d (IPv4) and %d (IPv6) connections, want 1 and 0", n4, n6)
	}
}

// tryBind binds a new TCP socket of family to ap; it returns the socket
// (nil on failure) and the error of start-bind or finish-bind.
func tryBind(t *testing.T, st *Stack, family Family, ap netip.AddrPort) (*TCPSocket, error) {
	t.Helper()
	s, err := st.NewTCPSocket(family)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartBind(bg, st.Network(), ToWIT(ap)); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.FinishBind(bg); err != nil {
		s.Close()
		return nil, err
	}
	t.Cleanup(func() { s.Close() })
	return s, nil
}

// TestBindSpellings: a guest allowed to listen on loopback cannot bind the
// wildcard addresses, another spelling of the address or a port outside
// its rule's range, and port 0 (an ephemeral port, anywhere in the
// system's range) needs a rule that allows port 0.
func TestBindSpellings(t *testing.T) {
	at := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	var p Policy
	if err := p.AllowListen("127.0.0.1:*", "[::1]:*", "127.0.0.3:8000-8999"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	for _, c := range []struct {
		family Family
		ap     netip.AddrPort
		want   error
	}{
		{IPv4, at("0.0.0.0:0"), AccessDenied},
		{IPv6, at("[::]:0"), AccessDenied},
		{IPv6, at("[::ffff:127.0.0.1]:0"), InvalidArgument},
		{IPv6, at("[::ffff:0.0.0.0]:0"), InvalidArgument},
		{IPv6, at("[::127.0.0.1]:0"), AccessDenied},
		{IPv4, at("127.0.0.2:0"), AccessDenied},
		{IPv4, at("224.0.0.1:0"), InvalidArgument},
		{IPv4, at("127.0.0.3:0"), AccessDenied}, // port 0 is not in 8000-8999
		{IPv4, at("127.0.0.3:9000"), AccessDenied},
		{IPv4, at("127.0.0.3:7999"), AccessDenied},
	} {
		if _, err := tryBind(t, st, c.family, c.ap); err != c.want {
			t.Errorf("bind (%v socket) to %v: %v, want %v", c.family, c.ap, err, c.want)
		}
	}

	// Bound or listening, a socket binds no more, and a listening socket
	// does not connect.
	s, err := tryBind(t, st, IPv4, at("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartBind(bg, st.Network(), ToWIT(at("0.0.0.0:0"))); err != InvalidState {
		t.Errorf("second bind: %v, want invalid-state", err)
	}
	if err := s.StartListen(bg); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishListen(bg); err != nil {
		t.Fatal(err)
	}
	if err := s.StartConnect(bg, st.Network(), ToWIT(at("127.0.0.1:9"))); err != InvalidState {
		t.Errorf("connect on a listening socket: %v, want invalid-state", err)
	}
}

// TestBindIPv6WildcardOnly: a rule allowing the IPv6 wildcard address
// ([::]) opens IPv6 only: the socket is IPV6_V6ONLY, so IPv4 clients do not
// reach it, for TCP as for UDP (whose ephemeral bind any UDP rule allows,
// on any local address, but whose datagrams from IPv4 peers do not arrive).
func TestBindIPv6WildcardOnly(t *testing.T) {
	ctx := context.Background()
	var p Policy
	if err := p.AllowListen("[::]:*"); err != nil {
		t.Fatal(err)
	}
	if err := p.AllowUDP("127.0.0.1:*", "[::1]:*"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	s, err := tryBind(t, st, IPv6, netip.MustParseAddrPort("[::]:0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartListen(bg); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishListen(bg); err != nil {
		t.Fatal(err)
	}
	wla, err := s.LocalAddress(bg)
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(int(FromWIT(wla).Port()))
	if c, err := net.DialTimeout("tcp4", "127.0.0.1:"+port, 5*time.Second); err == nil {
		c.Close()
		t.Fatalf("an IPv4 client reached a socket bound to [::]:%s", port)
	}
	c, err := net.DialTimeout("tcp6", "[::1]:"+port, 5*time.Second)
	if err != nil {
		t.Fatalf("an IPv6 client: %v", err)
	}
	c.Close()

	u, err := st.NewUDPSocket(IPv6)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Drop()
	if err := u.StartBind(ctx, st.Network(), ToWIT(netip.MustParseAddrPort("[::]:0"))); err != nil {
		t.Fatal(err)
	}
	if err := u.FinishBind(ctx); err != nil {
		t.Fatal(err)
	}
	pair, err := u.Stream(ctx, cabi.None[network.IPSocketAddress]())
	if err != nil {
		t.Fatal(err)
	}
	defer pair.F0.Drop()
	defer pair.F1.Drop()
	ula, _ := u.LocalAddress(ctx)
	uport := strconv.Itoa(int(FromWIT(ula).Port()))
	for _, to := range []string{"127.0.0.1:" + uport, "[::1]:" + uport} {
		c, err := net.Dial("udp", to)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(to))
		c.Close()
	}
	in := pair.F0.(*IncomingDatagramStream)
	waitFor(t, "the IPv6 datagram", in.Ready)
	time.Sleep(20 * time.Millisecond)
	got, err := in.Receive(ctx, 10)
	if err != nil || len(got) != 1 || string(got[0].Data) != "[::1]:"+uport {
		t.Fatalf("received %d datagrams (%v), want only the one sent to [::1]", len(got), err)
	}
}

// TestUDPSpellings: a guest allowed one UDP peer sends to nothing else,
// whatever the spelling, by a stream's remote address or a datagram's.
func TestUDPSpellings(t *testing.T) {
	ctx := context.Background()
	peer := hostUDP(t, net.IPv4(127, 0, 0, 1))
	ap := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	at := func(ip string, port uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr(ip), port)
	}
	st := NewStack(udpPolicy(t, ap.String(), "0.0.0.0:*", "[::]:*", "255.255.255.255:*"))
	u4 := boundUDP(t, st)
	defer u4.Drop()
	u6, err := st.NewUDPSocket(IPv6)
	if err != nil {
		t.Fatal(err)
	}
	defer u6.Drop()
	if err := u6.StartBind(ctx, st.Network(), ToWIT(at("::1", 0))); err != nil {
		t.Fatal(err)
	}
	if err := u6.FinishBind(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		u    *UDPSocket
		to   netip.AddrPort
		want error
	}{
		{u6, at("::ffff:127.0.0.1", ap.Port()), InvalidArgument},
		{u6, at("::127.0.0.1", ap.Port()), AccessDenied},
		{u6, at("::", ap.Port()), InvalidArgument},
		{u4, at("0.0.0.0", ap.Port()), InvalidArgument},
		{u4, at("127.0.0.1", 0), InvalidArgument},
		{u4, at("127.0.0.1", ap.Port()+1), AccessDenied},
		{u4, at("127.0.0.2", ap.Port()), AccessDenied},
		{u4, at("127.255.255.255", ap.Port()), AccessDenied},
		{u4, at("224.0.0.1", ap.Port()), AccessDenied},
	} {
		if err := sendDatagram(t, c.u, c.to, "x"); err != c.want {
			t.Errorf("send from the %v socket to %v: %v, want %v", c.u.family, c.to, err, c.want)
		}
		if _, err := c.u.Stream(ctx, cabi.Some(ToWIT(c.to))); err != c.want {
			t.Errorf("stream of the %v socket to %v: %v, want %v", c.u.family, c.to, err, c.want)
		}
	}

	// A stream limited to the allowed peer sends to it alone, even to
	// another allowed address.
	pair, err := u4.Stream(ctx, cabi.Some(ToWIT(ap)))
	if err != nil {
		t.Fatal(err)
	}
	defer pair.F0.Drop()
	defer pair.F1.Drop()
	pair.F1.CheckSend(ctx)
	other := at("255.255.255.255", ap.Port())
	if _, err := pair.F1.Send(ctx, []udp.OutgoingDatagram{{Data: []byte("x"), RemoteAddress: cabi.Some(ToWIT(other))}}); err != InvalidArgument {
		t.Errorf("send to %v on a stream limited to %v: %v, want invalid-argument", other, ap, err)
	}
	if n, err := pair.F1.Send(ctx, []udp.OutgoingDatagram{{Data: []byte("ok")}}); n != 1 || err != nil {
		t.Fatalf("send to the stream's peer: %d, %v", n, err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, _, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("the peer read %q, %v; want only \"ok\"", buf[:n], err)
	}
}

// spellingDNS serves DNS on loopback UDP: an A query for a name in a is
// answered with its addresses, an AAAA query with those of aaaa; others
// with no records. Every name queried is sent on names.
func spellingDNS(t *testing.T, a, aaaa map[string][]netip.Addr) (*net.Resolver, chan string) {
	t.Helper()
	names := make(chan string, 256)
	server := testnet.ServeUDP(t, func(q []byte) []byte {
		msg, name := dnsAnswer(q, a, aaaa)
		if msg != nil {
			select {
			case names <- name:
			default:
			}
		}
		return msg
	})
	return testnet.Resolver(server), names
}

// TestResolveSpellings: names are looked up only when a rule allows them,
// however they are spelled, and an allowed lookup makes connectable what
// it returned, on the rule's ports, and nothing else: an answer of a
// wildcard address stays unconnectable, one of an IPv4-mapped address
// grants the IPv4 address.
func TestResolveSpellings(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	res, queried := spellingDNS(t,
		map[string][]netip.Addr{"svc.allowed.test.": addrs("127.0.0.1", "0.0.0.0")},
		map[string][]netip.Addr{"svc.allowed.test.": addrs("::", "::ffff:127.0.0.2")})
	one, _ := countingListener(t, "tcp4", "127.0.0.1:0")
	port := one.Port()
	countingListener(t, "tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port).String())
	var p Policy
	if err := p.AllowConnect("svc.allowed.test:"+strconv.Itoa(int(port)), "*.wild.test:443"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	st.SetResolver(res)

	for _, c := range []struct {
		name string
		want error
	}{
		{"allowed.test", AccessDenied},
		{"other.test", AccessDenied},
		{"wild.test", AccessDenied},
		{"svc.allowed.test.evil", AccessDenied},
		{"svc-allowed.test", AccessDenied},
		{"svc.allowed.test..", InvalidArgument},
		{".svc.allowed.test", InvalidArgument},
		{"svc.allowed.test\x00.evil", InvalidArgument},
		{"svc.allowed.test/", InvalidArgument},
		{"svc.allowed.test:80", InvalidArgument},
		{"svc.allowed.test ", InvalidArgument},
		{"ѕvc.allowed.test", InvalidArgument},      // a Cyrillic s
		{"\u212a.wild.test", InvalidArgument},      // the Kelvin sign, which Unicode lower-cases to k
		{"svc.allowed.te\u017ft", InvalidArgument}, // a long s, which Unicode upper-cases to S
		{"a.wild.test\u3002evil", InvalidArgument},
		{strings.Repeat("a.", 126) + "wild.test", InvalidArgument}, // 261 bytes
		{"*.wild.test", InvalidArgument},
		{"", InvalidArgument},
	} {
		if r, err := st.Resolve(st.Network(), c.name); err != c.want {
			if r != nil {
				r.Drop()
			}
			t.Errorf("resolve %q: %v, want %v", c.name, err, c.want)
		}
	}
	select {
	case name := <-queried:
		t.Fatalf("a refused name reached the DNS server as %q", name)
	default:
	}

	resolve := func(name string) []netip.Addr {
		t.Helper()
		r, err := st.Resolve(st.Network(), name)
		if err != nil {
			t.Fatalf("resolve %q: %v", name, err)
		}
		defer r.Drop()
		wait(t, r.done)
		var got []netip.Addr
		for {
			a, ok, err := r.next()
			if err != nil {
				t.Fatalf("resolve %q: %v", name, err)
			}
			if !ok {
				return got
			}
			got = append(got, a)
		}
	}
	for _, spelling := range []string{"SVC.Allowed.TEST.", "svc.allowed.test"} {
		if got := resolve(spelling); len(got) != 4 {
			t.Fatalf("resolve %q: %v, want 4 addresses", spelling, got)
		}
	}
	at := func(ip string, port uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr(ip), port)
	}
	for _, c := range []struct {
		family Family
		ap     netip.AddrPort
		want   error
	}{
		{IPv4, at("127.0.0.1", port), nil},
		{IPv4, at("127.0.0.2", port), nil}, // granted by the mapped answer
		{IPv4, at("127.0.0.1", port+1), AccessDenied},
		{IPv4, at("127.0.0.3", port), AccessDenied},
		{IPv4, at("0.0.0.0", port), InvalidArgument},
		{IPv6, at("::", port), InvalidArgument},
		{IPv6, at("::ffff:127.0.0.2", port), InvalidArgument},
		{IPv6, at("::1", port), AccessDenied},
	} {
		if err := tryConnect(t, st, c.family, c.ap); err != c.want {
			t.Errorf("connect (%v socket) to %v after the lookup: %v, want %v", c.family, c.ap, err, c.want)
		}
	}
}

// dnsAnswer answers the query in msg from a and aaaa, and returns the
// answer and the name asked; nil for a message that is not a query.
func dnsAnswer(msg []byte, a, aaaa map[string][]netip.Addr) ([]byte, string) {
	out, q, err := testnet.DNSAnswer(msg, false, func(q dnsmessage.Question) []netip.Addr {
		name := strings.ToLower(q.Name.String())
		if q.Type == dnsmessage.TypeA {
			return a[name]
		}
		return aaaa[name]
	})
	if out == nil || err != nil {
		return nil, ""
	}
	return out, q.Name.String()
}

// TestResolveLongNameNotCopied: a name longer than any DNS name is
// refused before the host lower-cases it, so a guest's megabyte name
// costs the host no megabyte copy.
func TestResolveLongNameNotCopied(t *testing.T) {
	var p Policy
	if err := p.AllowConnect("*:443"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	name := strings.Repeat("A", 1<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 8
	for range runs {
		if r, err := st.Resolve(st.Network(), name); err != InvalidArgument {
			if r != nil {
				r.Drop()
			}
			t.Fatalf("resolve of a %d-byte name: %v, want %v", len(name), err, InvalidArgument)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per >= uint64(len(name))/4 {
		t.Errorf("resolving a %d-byte name allocated %d bytes per call: the name was copied", len(name), per)
	}
}

// TestResolveLongLiteralNotHeld: an IPv6 literal with a zone as long as
// the guest likes ("fe80::1%" and a megabyte) is refused like a name
// longer than any DNS name, policy or not (a literal needs no rule).
// Before, it resolved to itself, and its address kept the zone, a copy
// for each distinct one (netip interns zones), for as long as the guest
// kept the stream: under a policy that allows nothing, a guest's
// resolve streams held megabytes each of the host's memory, as many as
// its handle limit allows.
func TestResolveLongLiteralNotHeld(t *testing.T) {
	st := NewStack(nil)
	const runs, size = 16, 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var held []*ResolveStream
	for i := range runs {
		name := fmt.Sprintf("fe80::1%%%d%s", i, strings.Repeat("z", size))
		r, err := st.Resolve(st.Network(), name)
		if r != nil {
			held = append(held, r)
		}
		if err != InvalidArgument && i == 0 {
			t.Errorf("resolve of a %d-byte literal: %v, want %v", len(name), err, InvalidArgument)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew >= runs*size/4 {
		t.Errorf("%d streams of long literals hold %d bytes of the heap", len(held), grew)
	}
	for _, r := range held {
		r.Drop()
	}
	// A literal of reasonable length still resolves to itself, without
	// its zone (a scope id this host does not use).
	r, err := st.Resolve(st.Network(), "[fe80::1%lo]")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Drop()
	if ip, ok, err := r.next(); err != nil || !ok || ip != netip.MustParseAddr("fe80::1") {
		t.Errorf("resolve [fe80::1%%lo]: %v %v %v, want fe80::1", ip, ok, err)
	}
}

// TestLinkLocalNoZone: the scope id and flow info of a guest's IPv6
// address are not used, so a link-local address names no interface:
// binding or connecting to one fails with invalid-argument even under
// rules that allow it, whatever scope id the guest gave.
func TestLinkLocalNoZone(t *testing.T) {
	var p Policy
	if err := p.AllowConnect("[fe80::/10]:*"); err != nil {
		t.Fatal(err)
	}
	if err := p.AllowListen("[fe80::/10]:*"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	addr := ToWIT(netip.MustParseAddrPort("[fe80::1]:9"))
	addr.IPv6.ScopeID = 1 // lo's index on Linux
	addr.IPv6.FlowInfo = 0xfffff
	if ap := FromWIT(addr); ap != netip.MustParseAddrPort("[fe80::1]:9") {
		t.Fatalf("FromWIT kept the scope id or the flow info: %v", ap)
	}
	if err := tryConnect(t, st, IPv6, FromWIT(addr)); err != InvalidArgument {
		t.Errorf("connect to a link-local address: %v, want invalid-argument", err)
	}
	s, err := st.NewTCPSocket(IPv6)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.StartBind(bg, st.Network(), addr); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishBind(bg); err != InvalidArgument {
		t.Errorf("bind to a link-local address: %v, want invalid-argument", err)
	}
}

// TestBindTakesNoHostPort: a guest allowed to bind every loopback and
// wildcard port cannot take or share one the host already listens on,
// TCP or UDP, though the host's listener has SO_REUSEADDR (as Go's have),
// on one family or both: bind fails with address-in-use.
func TestBindTakesNoHostPort(t *testing.T) {
	ctx := context.Background()
	host, _ := countingListener(t, "tcp4", "127.0.0.1:0")
	udpPort := hostUDP(t, net.IPv4(127, 0, 0, 1)).LocalAddr().(*net.UDPAddr).AddrPort().Port()
	var p Policy
	if err := p.AllowListen("127.0.0.1:*", "0.0.0.0:*"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	// inUse binds, TCP and UDP, to each of ips and the host's ports,
	// which what names, expecting address-in-use.
	inUse := func(ips []string, tcpPort, udpPort uint16, tcpWhat, udpWhat string) {
		t.Helper()
		for _, ip := range ips {
			addr := netip.MustParseAddr(ip)
			ap := netip.AddrPortFrom(addr, tcpPort)
			if _, err := tryBind(t, st, FamilyOf(addr), ap); err != AddressInUse {
				t.Errorf("TCP bind to %v, %s: %v, want address-in-use", ap, tcpWhat, err)
			}
			ap = netip.AddrPortFrom(addr, udpPort)
			u, err := st.NewUDPSocket(FamilyOf(addr))
			if err != nil {
				t.Fatal(err)
			}
			if err := u.StartBind(ctx, st.Network(), ToWIT(ap)); err != nil {
				t.Fatal(err)
			}
			if err := u.FinishBind(ctx); err != AddressInUse {
				t.Errorf("UDP bind to %v, %s: %v, want address-in-use", ap, udpWhat, err)
			}
			u.Drop()
		}
	}
	inUse([]string{"127.0.0.1", "0.0.0.0"}, host.Port(), udpPort, "the host's port", "the host's port")

	// Nor one the host listens on for both families (Go's net.Listen
	// on ":PORT": [::] without IPV6_V6ONLY), whose IPv4 clients a
	// guest's listener on an IPv4 address, more specific, would take.
	dual, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer dual.Close()
	dualUDP, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer dualUDP.Close()
	if err := p.AllowListen("[::1]:*"); err != nil {
		t.Fatal(err)
	}
	inUse([]string{"127.0.0.1", "0.0.0.0", "::1"},
		uint16(dual.Addr().(*net.TCPAddr).Port), uint16(dualUDP.LocalAddr().(*net.UDPAddr).Port),
		"the port of the host's listener on both families", "the port of the host's socket on both families")
}

// TestConnectTargetFixed: what a connect dials is the address start-connect
// checked: a second start-connect while the first is in progress, to
// another address, allowed or not, fails with concurrency-conflict, and
// the connection is to the first.
func TestConnectTargetFixed(t *testing.T) {
	first, count := countingListener(t, "tcp4", "127.0.0.1:0")
	second, _ := countingListener(t, "tcp4", "127.0.0.1:0")
	var p Policy
	if err := p.AllowConnect(first.String(), second.String()); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	s := mustSocket(t, st)
	defer s.Close()
	if err := s.StartConnect(bg, st.Network(), ToWIT(first)); err != nil {
		t.Fatal(err)
	}
	for _, ap := range []netip.AddrPort{second, netip.MustParseAddrPort("127.0.0.2:1")} {
		if err := s.StartConnect(bg, st.Network(), ToWIT(ap)); err != ConcurrencyConflict {
			t.Errorf("second start-connect to %v: %v, want concurrency-conflict", ap, err)
		}
	}
	wait(t, s)
	pair, err := s.FinishConnect(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer pair.F0.Drop()
	defer pair.F1.Drop()
	if ra, err := s.RemoteAddress(bg); err != nil || FromWIT(ra) != first {
		t.Fatalf("remote address %v, %v; want %v", FromWIT(ra), err, first)
	}
	waitFor(t, "the connection", func() bool { return count() > 0 })
}

// A confinedCase is one IPv6 range whose addresses only a rule inside
// the range allows (see confinedRanges): addresses wide rules do not
// allow (as TCP connects and UDP peers alike), addresses beside it they
// do (nil) or do not (access-denied), and rules inside the range with
// what they allow (nil) and refuse (access-denied).
type confinedCase struct {
	wide      []string // connect rules wider than the range, beside "[::/0]:*"
	confined  []string
	beside    map[string]error
	narrow    []string
	narrowing map[string]error
}

// checkConfined tries c's connects on port 443: they are started, never
// waited for, so nothing is dialed.
func checkConfined(t *testing.T, c confinedCase) {
	t.Helper()
	at := func(ip string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(ip), 443) }
	start := func(st *Stack, ap netip.AddrPort) error {
		t.Helper()
		s, err := st.NewTCPSocket(IPv6)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return s.StartConnect(bg, st.Network(), ToWIT(ap))
	}
	var wide Policy
	if err := wide.AllowConnect(append([]string{"[::/0]:*"}, c.wide...)...); err != nil {
		t.Fatal(err)
	}
	if err := wide.AllowUDP("[::/0]:*"); err != nil {
		t.Fatal(err)
	}
	var denials []Denial
	wide.OnDeny(func(d Denial) { denials = append(denials, d) })
	st := NewStack(&wide)
	for _, a := range c.confined {
		if err := start(st, at(a)); err != AccessDenied {
			t.Errorf("connect to %s under IPv6 rules wider than its range: %v, want access-denied", a, err)
		}
		if wide.CanUDP(at(a)) {
			t.Errorf("UDP peer %s allowed by [::/0]", a)
		}
	}
	if len(denials) != len(c.confined) {
		t.Errorf("%d denials reported, want %d", len(denials), len(c.confined))
	}
	for a, want := range c.beside {
		if err := start(st, at(a)); err != want {
			t.Errorf("connect to %s under [::/0]: %v, want %v", a, err, want)
		}
	}

	var narrow Policy
	if err := narrow.AllowConnect(c.narrow...); err != nil {
		t.Fatal(err)
	}
	st = NewStack(&narrow)
	for a, want := range c.narrowing {
		if err := start(st, at(a)); err != want {
			t.Errorf("connect to %s under rules inside its range: %v, want %v", a, err, want)
		}
	}
}

// TestTranslatedSpellings: IPv6 rules, "[::/0]" included, allow no IPv6
// address that a translator takes to IPv4 (NAT64's 64:ff9b::/96 and
// 64:ff9b:1::/48, SIIT's ::ffff:0:0:0/96), for TCP connects and UDP
// peers alike; a rule inside the translator's range does.
func TestTranslatedSpellings(t *testing.T) {
	checkConfined(t, confinedCase{
		wide: []string{"[64::/16]:*", "[64:ff9b::/64]:*"},
		confined: []string{
			"64:ff9b::7f00:1",      // NAT64: 127.0.0.1
			"64:ff9b::10.0.0.5",    // NAT64: 10.0.0.5
			"64:ff9b:1::a00:5",     // NAT64, local use
			"64:ff9b:1:ffff::ffff", // the local-use range's last /64
			"::ffff:0:7f00:1",      // SIIT: 127.0.0.1
			"::ffff:0:a00:5",       // SIIT: 10.0.0.5
		},
		// Neighbours of the translators' ranges are IPv6 addresses as any.
		beside: map[string]error{
			"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff": nil,
			"64:ff9b::1:0:0":                        nil,
			"64:ff9b:2::1":                          nil,
			"::fffe:ffff:ffff:ffff":                 nil,
			"::1:0:0:0:1":                           nil,
			"2001:db8::1":                           nil,
		},
		narrow: []string{"[64:ff9b::/96]:*", "[64:ff9b:1::a00:0/104]:443", "[::ffff:0:7f00:1]:443"},
		narrowing: map[string]error{
			"64:ff9b::7f00:1":   nil,
			"64:ff9b::10.0.0.5": nil,
			"64:ff9b:1::a00:5":  nil,
			"64:ff9b:1::b00:5":  AccessDenied,
			"::ffff:0:7f00:1":   nil,
			"::ffff:0:7f00:2":   AccessDenied,
		},
	})
}

// TestEmbeddedIPv4Spellings: IPv6 rules, "[::/0]" included, allow no IPv6
// address that embeds an IPv4 one a relay or a host unwraps to reach it
// (IPv4-compatible ::a.b.c.d, 6to4's 2002::/16, Teredo's 2001::/32), for
// TCP connects and UDP peers alike, as for the translators' ranges: a
// rule inside the range does.
func TestEmbeddedIPv4Spellings(t *testing.T) {
	checkConfined(t, confinedCase{
		wide: []string{"[2000::/3]:*", "[2001::/16]:*", "[::/64]:*"},
		confined: []string{
			"::127.0.0.1",                 // IPv4-compatible: 127.0.0.1
			"::10.0.0.5",                  // IPv4-compatible: 10.0.0.5
			"::0.0.0.2",                   // the lowest not :: or ::1
			"2002:7f00:1::1",              // 6to4: 127.0.0.1
			"2002:c0a8:101::1",            // 6to4: 192.168.1.1
			"2002:ffff:ffff:ffff::1",      // the 6to4 range's last /48
			"2001:0:4136:e378::f5ff:fffe", // Teredo, client 10.0.0.1
			"2001::ffff:ffff:ffff:ffff",   // the Teredo range's edge
		},
		// The neighbours of the ranges are IPv6 addresses as any; IPv6
		// loopback, ::1, is the host's, which no range wider than
		// itself allows (TestWideRangesNoHost).
		beside: map[string]error{
			"::1":             AccessDenied,
			"::1:0:0:1":       nil,
			"2003::1":         nil,
			"2001:1::1":       nil,
			"2001:db8::1":     nil,
			"2001:4860::8888": nil,
			"2002::":          AccessDenied, // 2002::/16's first address embeds 0.0.0.0
		},
		narrow: []string{"[::10.0.0.0/104]:*", "[2002:c0a8:101::/48]:443", "[2001::/32]:*"},
		narrowing: map[string]error{
			"::10.0.0.5":                  nil,
			"::127.0.0.1":                 AccessDenied,
			"2002:c0a8:101::1":            nil,
			"2002:7f00:1::1":              AccessDenied,
			"2001:0:4136:e378::f5ff:fffe": nil,
		},
	})
}

// TestMulticastNeedsRule: a datagram to a multicast group reaches every
// host of the network that joined it (mDNS, SSDP's UPnP devices), not one
// peer: wide ranges that hold the multicast ranges ("0.0.0.0/0",
// "[::/0]") do not allow them; a rule inside 224.0.0.0/4 or ff00::/8
// does. The refused sends fail before any system call: nothing leaves
// loopback.
func TestMulticastNeedsRule(t *testing.T) {
	ctx := context.Background()
	at := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	wide := udpPolicy(t, "0.0.0.0/0:*", "[::/0]:*", "128.0.0.0/1:*")
	var denials []Denial
	wide.OnDeny(func(d Denial) { denials = append(denials, d) })
	st := NewStack(wide)
	u4 := boundUDP(t, st)
	defer u4.Drop()
	u6, err := st.NewUDPSocket(IPv6)
	if err != nil {
		t.Fatal(err)
	}
	defer u6.Drop()
	if err := u6.StartBind(ctx, st.Network(), ToWIT(at("[::1]:0"))); err != nil {
		t.Fatal(err)
	}
	if err := u6.FinishBind(ctx); err != nil {
		t.Fatal(err)
	}
	groups := []struct {
		u  *UDPSocket
		to netip.AddrPort
	}{
		{u4, at("224.0.0.251:5353")},     // mDNS
		{u4, at("239.255.255.250:1900")}, // SSDP
		{u4, at("224.0.0.1:9")},          // all hosts
		{u6, at("[ff02::fb]:5353")},      // mDNS
		{u6, at("[ff05::c]:1900")},       // SSDP, site-local
		{u6, at("[ff0e::1]:9")},          // global scope
	}
	for _, g := range groups {
		if err := sendDatagram(t, g.u, g.to, "x"); err != AccessDenied {
			t.Errorf("send to the group %v under wide ranges: %v, want access-denied", g.to, err)
		}
	}
	if len(denials) != len(groups) {
		t.Errorf("%d denials reported, want %d", len(denials), len(groups))
	}
	if !wide.CanUDP(at("8.8.8.8:53")) || !wide.CanUDP(at("[2001:4860::8888]:53")) {
		t.Error("the wide ranges do not allow unicast peers")
	}
	// Rules inside the multicast ranges allow what they hold, and nothing
	// else of them.
	narrow := udpPolicy(t, "224.0.0.251:5353", "[ff02::fb]:5353", "239.0.0.0/8:*")
	for _, c := range []struct {
		to   string
		want bool
	}{
		{"224.0.0.251:5353", true},
		{"[ff02::fb]:5353", true},
		{"239.255.255.250:1900", true},
		{"224.0.0.1:5353", false},
		{"[ff02::1]:5353", false},
	} {
		if got := narrow.CanUDP(at(c.to)); got != c.want {
			t.Errorf("CanUDP(%s) under rules inside the multicast ranges: %v, want %v", c.to, got, c.want)
		}
	}
}
