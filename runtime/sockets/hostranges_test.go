package sockets

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/cabi"
)

// The tests here lock in that rules meant for the internet do not reach
// the host itself or its link: wide ranges and "*" allow no loopback or
// link-local peer (169.254.169.254 being the cloud's metadata service),
// and a wildcard name rule's lookup grants none, whatever the DNS of a
// name beneath it says; rules naming the host or the address on purpose
// still do.

// startFamily starts a connect to ap from a new socket of ap's family and
// returns the start's error: never finished, nothing is dialed.
func startFamily(t *testing.T, st *Stack, ap netip.AddrPort) error {
	t.Helper()
	s, err := st.NewTCPSocket(FamilyOf(ap.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.StartConnect(bg, st.Network(), ToWIT(ap))
}

// TestWideRangesNoHost: "*" and ranges wider than loopback's or
// link-local's ("0.0.0.0/0", "[::/0]", "0.0.0.0/1", "126.0.0.0/7") allow
// no loopback or link-local peer, by TCP connect or UDP, in any spelling
// (IPv4-mapped ones are checked as the IPv4 address; the IPv6 ones that
// embed it are refused as any such spelling); the private ranges and the
// internet beside them they allow; rules inside loopback or link-local
// allow what they name.
func TestWideRangesNoHost(t *testing.T) {
	at := func(s string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(s), 443) }
	wideRules := []string{"0.0.0.0/0:*", "[::/0]:*", "0.0.0.0/1:443", "*:443", "126.0.0.0/7:*", "169.254.0.0/15:*", "[fe80::/9]:*", "[::/127]:*"}
	host := []string{
		"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1",
		"169.254.169.254", "169.254.0.1", "169.254.255.254", "fe80::1", "febf::1",
		// IPv6 spellings of 127.0.0.1 and 169.254.169.254.
		"::127.0.0.1", "64:ff9b::a9fe:a9fe", "::ffff:0:a9fe:a9fe", "2002:a9fe:a9fe::1",
	}
	beside := []string{
		"10.0.0.1", "172.16.0.1", "192.168.1.1", "fd00::1", "fd00:ec2::254", // private
		"126.255.255.255", "128.0.0.1", "169.253.255.255", "169.255.0.1", "8.8.8.8",
		"fec0::1", "fe7f::1", "2001:db8::1",
	}
	for _, rule := range wideRules {
		var p Policy
		if err := p.AllowConnect(rule); err != nil {
			t.Fatal(err)
		}
		if err := p.AllowUDP(rule); err != nil {
			t.Fatal(err)
		}
		var denials []Denial
		p.OnDeny(func(d Denial) { denials = append(denials, d) })
		st := NewStack(&p)
		for _, a := range host {
			if err := startFamily(t, st, at(a)); err != AccessDenied {
				t.Errorf("under %s, connect to %s: %v, want access-denied", rule, a, err)
			}
			if p.CanUDP(at(a)) {
				t.Errorf("under %s, UDP peer %s allowed", rule, a)
			}
		}
		for _, d := range denials {
			if d.Op != DenyConnect || d.Name != "" {
				t.Errorf("under %s, denial %+v, want a connect with no name", rule, d)
			}
		}
		// "*" allows, as a peer, what "0.0.0.0/0" and "[::/0]" do: no
		// multicast group either.
		for _, a := range []string{"224.0.0.251", "ff02::fb"} {
			if p.CanUDP(at(a)) {
				t.Errorf("under %s, UDP to the group %s allowed", rule, a)
			}
		}
		// IPv4-mapped: the IPv4 address, for UDP peers as for connects
		// (which IPv6 sockets refuse as invalid-argument).
		for _, a := range []string{"::ffff:127.0.0.1", "::ffff:169.254.169.254"} {
			if p.CanUDP(at(a)) || p.CanConnect(at(a)) {
				t.Errorf("under %s, the IPv4-mapped %s allowed", rule, a)
			}
		}
		for _, a := range beside {
			ap := at(a)
			if !p.connect[0].addrOK(ap.Addr()) {
				continue // not in this rule's range
			}
			if err := startFamily(t, st, ap); err != nil {
				t.Errorf("under %s, connect to %s: %v, want it started", rule, a, err)
			}
			if !p.CanUDP(ap) {
				t.Errorf("under %s, UDP peer %s denied", rule, a)
			}
		}
	}

	var narrow Policy
	if err := narrow.AllowConnect("127.0.0.1:443", "127.0.0.0/8:9", "[::1]:443", "169.254.169.254:443", "[fe80::/10]:443", "[::ffff:127.0.0.0/104]:80"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&narrow)
	for ap, want := range map[string]error{
		"127.0.0.1:443": nil, "127.0.0.2:443": AccessDenied, "127.0.0.2:9": nil, "127.9.9.9:80": nil,
		"[::1]:443": nil, "169.254.169.254:443": nil, "169.254.169.253:443": AccessDenied,
		"[fe80::1]:443": nil, "[fe80::1]:80": AccessDenied,
	} {
		if err := startFamily(t, st, netip.MustParseAddrPort(ap)); err != want {
			t.Errorf("under rules naming loopback and link-local, connect to %s: %v, want %v", ap, err, want)
		}
	}
}

// TestWideRangesNoLoopbackPeer: against real loopback sockets, a guest
// under "0.0.0.0/0" is refused the connect to a loopback listener, which
// accepts nothing, and the send to a loopback UDP peer, and datagrams
// from such a peer are dropped unseen; under the listener's own address
// the connect succeeds. Listen rules have no carve-out: "0.0.0.0/0"
// still lets the guest bind loopback.
func TestWideRangesNoLoopbackPeer(t *testing.T) {
	ctx := context.Background()
	ln, accepted := countingListener(t, "tcp4", "127.0.0.1:0")
	p := udpPolicy(t, "0.0.0.0/0:*", "127.0.0.2:*")
	if err := p.AllowConnect("0.0.0.0/0:*"); err != nil {
		t.Fatal(err)
	}
	if err := p.AllowListen("0.0.0.0/0:*"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(p)
	if err := tryConnect(t, st, IPv4, ln); err != AccessDenied {
		t.Fatalf("connect to the loopback listener %v under 0.0.0.0/0: %v, want access-denied", ln, err)
	}
	if b, err := tryBind(t, st, IPv4, netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Errorf("bind to loopback under the listen rule 0.0.0.0/0: %v", err)
	} else {
		b.Drop()
	}

	denied := hostUDP(t, net.IPv4(127, 0, 0, 1))
	allowed := hostUDP(t, net.IPv4(127, 0, 0, 2))
	u := boundUDP(t, st)
	defer u.Drop()
	if err := sendDatagram(t, u, denied.LocalAddr().(*net.UDPAddr).AddrPort(), "x"); err != AccessDenied {
		t.Errorf("UDP send to the loopback peer under 0.0.0.0/0: %v, want access-denied", err)
	}
	pair, err := u.Stream(ctx, cabi.None[network.IPSocketAddress]())
	if err != nil {
		t.Fatal(err)
	}
	defer pair.F0.Drop()
	defer pair.F1.Drop()
	to := u.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	denied.WriteToUDPAddrPort([]byte("from 127.0.0.1"), to)
	allowed.WriteToUDPAddrPort([]byte("from 127.0.0.2"), to)
	in := pair.F0.(*IncomingDatagramStream)
	waitFor(t, "the allowed peer's datagram", in.Ready)
	got, err := in.Receive(ctx, 10)
	if err != nil || len(got) != 1 || string(got[0].Data) != "from 127.0.0.2" {
		t.Fatalf("received %d datagrams (%v), want the one from 127.0.0.2 alone", len(got), err)
	}

	var named Policy
	if err := named.AllowConnect("0.0.0.0/0:*", ln.String()); err != nil {
		t.Fatal(err)
	}
	if err := tryConnect(t, NewStack(&named), IPv4, ln); err != nil {
		t.Fatalf("connect to %v under a rule naming it: %v", ln, err)
	}
	waitFor(t, "the named connection", func() bool { return accepted() == 1 })
	if n := accepted(); n != 1 {
		t.Fatalf("the listener accepted %d connections, want the named one alone", n)
	}
}

// TestWildcardLookupNoHost: a lookup a wildcard name rule ("*.rebind.test",
// or "*") allows returns its whole answer, but grants no loopback,
// link-local or unspecified address of it: a guest pointing a name it
// controls at 127.0.0.1 or 169.254.169.254 is refused the connect, whose
// denial names the name; the private and other addresses of the answer
// it grants. A rule naming the host grants every address of its answer,
// on its ports, and the connect to a loopback listener succeeds.
func TestWildcardLookupNoHost(t *testing.T) {
	ln, accepted := countingListener(t, "tcp4", "127.0.0.1:0")
	port := strconv.Itoa(int(ln.Port()))
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	v4 := addrs("127.0.0.1", "169.254.169.254", "10.0.0.5", "192.0.2.1")
	v6 := addrs("::1", "fe80::1", "fd00::5", "2001:db8::1")
	res, _ := spellingDNS(t, map[string][]netip.Addr{"svc.rebind.test.": v4}, map[string][]netip.Addr{"svc.rebind.test.": v6})
	host := []netip.AddrPort{ln, netip.AddrPortFrom(v4[1], ln.Port()), netip.AddrPortFrom(v6[0], ln.Port()), netip.AddrPortFrom(v6[1], ln.Port())}
	others := []netip.AddrPort{netip.AddrPortFrom(v4[2], ln.Port()), netip.AddrPortFrom(v4[3], ln.Port()), netip.AddrPortFrom(v6[2], ln.Port()), netip.AddrPortFrom(v6[3], ln.Port())}

	for _, rule := range []string{"*.rebind.test:" + port, "*:" + port} {
		st, denials := deniedStack(t, res, rule)
		r, err := lookup(t, st, "svc.rebind.test")
		if err != nil {
			t.Fatalf("under %s: %v", rule, err)
		}
		var got []netip.Addr
		for {
			a, ok, err := r.next()
			if err != nil || !ok {
				break
			}
			got = append(got, a)
		}
		r.Drop()
		for _, a := range append(slices.Clone(v4), v6...) {
			if !slices.Contains(got, a) {
				t.Errorf("under %s, the lookup returned %v, without %v", rule, got, a)
			}
		}
		for _, ap := range host {
			if err := startFamily(t, st, ap); err != AccessDenied {
				t.Errorf("under %s, connect to %v from the lookup: %v, want access-denied", rule, ap, err)
			}
		}
		for i, d := range *denials {
			if want := (Denial{Op: DenyConnect, Addr: host[i], Name: "svc.rebind.test"}); i < len(host) && d != want {
				t.Errorf("under %s, denial %+v, want %+v", rule, d, want)
			}
		}
		if len(*denials) != len(host) {
			t.Errorf("under %s, %d denials, want %d", rule, len(*denials), len(host))
		}
		for _, ap := range others {
			if err := startFamily(t, st, ap); err != nil {
				t.Errorf("under %s, connect to %v from the lookup: %v, want it started", rule, ap, err)
			}
		}
	}
	if n := accepted(); n != 0 {
		t.Fatalf("the loopback listener accepted %d connections under wildcard rules", n)
	}

	// A rule naming the host, beside a wildcard one on another port:
	// the named rule's port reaches loopback, the wildcard's does not.
	st, denials := deniedStack(t, res, "svc.rebind.test:"+port, "*.rebind.test:1-"+strconv.Itoa(int(ln.Port())-1))
	r, err := lookup(t, st, "svc.rebind.test")
	if err != nil {
		t.Fatal(err)
	}
	r.Drop()
	if err := tryConnect(t, st, IPv4, ln); err != nil {
		t.Fatalf("connect to %v under the rule naming the host: %v", ln, err)
	}
	waitFor(t, "the named connection", func() bool { return accepted() == 1 })
	for _, ap := range host[1:] {
		if err := startFamily(t, st, ap); err != nil {
			t.Errorf("connect to %v under the rule naming the host: %v, want it started", ap, err)
		}
	}
	below := netip.AddrPortFrom(ln.Addr(), ln.Port()-1)
	if err := startFamily(t, st, below); err != AccessDenied {
		t.Errorf("connect to %v, a port of the wildcard rule alone: %v, want access-denied", below, err)
	}
	if want := (Denial{Op: DenyConnect, Addr: below, Name: "svc.rebind.test"}); len(*denials) != 1 || (*denials)[0] != want {
		t.Errorf("denials %+v, want %+v", *denials, want)
	}
}

// TestWildcardLookupNoEmbedded: a wildcard name rule's lookup grants no
// IPv6 address that a translator or a relay takes to an IPv4 one, or that
// embeds one (NAT64's 64:ff9b::/96 and 64:ff9b:1::/48 in RFC 6052's
// layouts, SIIT's ::ffff:0:0:0/96, IPv4-compatible ::a.b.c.d, 6to4's
// 2002::/16, Teredo's 2001::/32 with its server or its obfuscated
// client), whatever IPv4 address it embeds: its grant is no wider than
// "[::/0]", which allows none of them. Before, a name whose DNS the
// guest's author controls, pointed at 64:ff9b::a9fe:a9fe, reached
// 169.254.169.254 through a NAT64 gateway. The connect is access-denied,
// its denial naming the lookup; an IPv4-mapped answer is its IPv4
// address, withheld as loopback is. An address rule inside such a range
// still allows what it names, and a rule naming the host grants all of
// them.
func TestWildcardLookupNoEmbedded(t *testing.T) {
	const name = "svc.rebind.test"
	embedded := []string{
		"64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b::", "64:ff9b::808:808", // NAT64, /96: 169.254.169.254, 127.0.0.1, 0.0.0.0, 8.8.8.8
		"64:ff9b:1:a9fe:a9:fe00::", "64:ff9b:1:7f00:0:100::", // RFC 8215 as a /48 (bits 48-63 and 72-87)
		"64:ff9b:1:a9:fe:a9fe::", "64:ff9b:1:0:7f:0:100:0", "64:ff9b:1::a9fe:a9fe", // ... as a /56, a /64 and a /96
		"::ffff:0:a9fe:a9fe", "::ffff:0:7f00:1", // SIIT
		"::a9fe:a9fe", "::7f00:1", "::808:808", // IPv4-compatible
		"2002:a9fe:a9fe::1", "2002:7f00:1::1", "2002::1", // 6to4
		"2001:0:a9fe:a9fe::f7f7:f7f7",          // Teredo, server 169.254.169.254 (client 8.8.8.8)
		"2001:0:4136:e378:8000:63bf:5601:5601", // Teredo, client 169.254.169.254
		"2001:0:4136:e378:8000:63bf:80fe:fffe", // Teredo, client 127.1.0.1
	}
	var aaaa []netip.Addr
	for _, a := range embedded {
		aaaa = append(aaaa, netip.MustParseAddr(a))
	}
	granted := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:1::1"), netip.MustParseAddr("192.0.2.1")}
	aaaa = append(aaaa, granted[0], granted[1], netip.MustParseAddr("::ffff:127.0.0.1"))
	res, _ := spellingDNS(t, map[string][]netip.Addr{name + ".": {granted[2]}}, map[string][]netip.Addr{name + ".": aaaa})
	at := func(a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, 443) }
	resolve := func(st *Stack) {
		t.Helper()
		r, err := lookup(t, st, name)
		if err != nil {
			t.Fatal(err)
		}
		r.Drop()
	}

	for _, rule := range []string{"*.rebind.test:443", "*:443"} {
		st, denials := deniedStack(t, res, rule)
		resolve(st)
		var want []Denial
		for _, a := range append(aaaa[:len(embedded):len(embedded)], netip.MustParseAddr("127.0.0.1")) {
			want = append(want, Denial{Op: DenyConnect, Addr: at(a), Name: name})
			if err := startFamily(t, st, at(a)); err != AccessDenied {
				t.Errorf("under %s, connect to %v from the lookup: %v, want access-denied", rule, a, err)
			}
		}
		if !slices.Equal(*denials, want) {
			t.Errorf("under %s, denials %+v, want %+v", rule, *denials, want)
		}
		if err := startFamily(t, st, netip.MustParseAddrPort("[::ffff:127.0.0.1]:443")); err != InvalidArgument {
			t.Errorf("under %s, connect to ::ffff:127.0.0.1 on an IPv6 socket: %v, want invalid-argument", rule, err)
		}
		for _, a := range granted {
			if err := startFamily(t, st, at(a)); err != nil {
				t.Errorf("under %s, connect to %v from the lookup: %v, want it started", rule, a, err)
			}
		}
	}

	// An address rule inside a range allows what it names, beside the
	// wildcard rule; the rule naming the host grants the whole answer.
	st, _ := deniedStack(t, res, "*.rebind.test:443", "[64:ff9b::/96]:443")
	resolve(st)
	if err := startFamily(t, st, at(netip.MustParseAddr("64:ff9b::808:808"))); err != nil {
		t.Errorf("connect to 64:ff9b::808:808 under [64:ff9b::/96]:443: %v, want it started", err)
	}
	if err := startFamily(t, st, at(netip.MustParseAddr("2002:808:808::1"))); err != AccessDenied {
		t.Errorf("connect to 2002:808:808::1 under [64:ff9b::/96]:443: %v, want access-denied", err)
	}
	st, denials := deniedStack(t, res, name+":443")
	resolve(st)
	for _, a := range aaaa[:len(embedded)] {
		if err := startFamily(t, st, at(a)); err != nil {
			t.Errorf("connect to %v under the rule naming the host: %v, want it started", a, err)
		}
	}
	if len(*denials) != 0 {
		t.Errorf("denials under the rule naming the host: %+v", *denials)
	}
}

// deniedStack returns a stack under the connect rules, looking names up
// with res, and the denials its policy reports.
func deniedStack(t *testing.T, res *net.Resolver, rules ...string) (*Stack, *[]Denial) {
	t.Helper()
	var p Policy
	if err := p.AllowConnect(rules...); err != nil {
		t.Fatal(err)
	}
	denials := new([]Denial)
	p.OnDeny(func(d Denial) { *denials = append(*denials, d) })
	st := NewStack(&p)
	st.SetResolver(res)
	return st, denials
}
