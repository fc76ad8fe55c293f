package sockets

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
)

// The tests here lock in what an allowed lookup grants, and which names
// reach a lookup at all: a guest's way to an address or a name through
// the policy's names rather than its addresses.

// TestGrantsOnlyConnect: what an allowed lookup grants is a TCP connect,
// from the instance that looked the name up, to the addresses the answer
// held, on the rule's ports: not a UDP peer (UDP rules are addresses
// only), not a bind, TCP or UDP, and nothing to another instance under
// the same policy; resolving a literal grants nothing, on any instance.
func TestGrantsOnlyConnect(t *testing.T) {
	ctx := context.Background()
	res, _ := spellingDNS(t,
		map[string][]netip.Addr{"svc.grant.test.": {netip.MustParseAddr("127.0.0.1")}},
		map[string][]netip.Addr{"svc.grant.test.": {netip.MustParseAddr("::1")}})
	tcpPeer, accepted := countingListener(t, "tcp4", "127.0.0.1:0")
	udpPeer := hostUDP(t, net.IPv4(127, 0, 0, 1)).LocalAddr().(*net.UDPAddr).AddrPort()

	var p Policy
	if err := p.AllowConnect("svc.grant.test:*"); err != nil {
		t.Fatal(err)
	}
	// A UDP rule for another peer, so that UDP sockets bind at all.
	if err := p.AllowUDP("127.0.0.2:53"); err != nil {
		t.Fatal(err)
	}
	looked, other := NewStack(&p), NewStack(&p)
	looked.SetResolver(res)
	other.SetResolver(res)

	if err := tryConnect(t, looked, IPv4, tcpPeer); err != AccessDenied {
		t.Fatalf("connect to %v before the lookup: %v, want access-denied", tcpPeer, err)
	}
	// A literal resolves to itself, on either instance, and grants
	// nothing.
	for _, st := range []*Stack{looked, other} {
		r, err := lookup(t, st, "127.0.0.1")
		if err != nil {
			t.Fatalf("resolve the literal 127.0.0.1: %v", err)
		}
		r.Drop()
		if err := tryConnect(t, st, IPv4, tcpPeer); err != AccessDenied {
			t.Fatalf("connect to %v after resolving the literal: %v, want access-denied", tcpPeer, err)
		}
	}
	if n := looked.Grants(); n != 0 {
		t.Fatalf("%d addresses granted by resolving a literal, want 0", n)
	}

	r, err := lookup(t, looked, "svc.grant.test")
	if err != nil {
		t.Fatal(err)
	}
	r.Drop()
	if err := tryConnect(t, looked, IPv4, tcpPeer); err != nil {
		t.Fatalf("connect to %v after the lookup: %v", tcpPeer, err)
	}
	waitFor(t, "the granted connection", func() bool { return accepted() == 1 })
	if err := tryConnect(t, other, IPv4, tcpPeer); err != AccessDenied {
		t.Errorf("connect to %v from another instance under the same policy: %v, want access-denied", tcpPeer, err)
	}

	// Granted, the addresses are no UDP peers, by a datagram's address
	// or a stream's.
	u := boundUDP(t, looked)
	defer u.Drop()
	for _, to := range []netip.AddrPort{udpPeer, tcpPeer} {
		if err := sendDatagram(t, u, to, "x"); err != AccessDenied {
			t.Errorf("UDP send to the granted %v: %v, want access-denied", to, err)
		}
		if _, err := u.Stream(ctx, cabi.Some(ToWIT(to))); err != AccessDenied {
			t.Errorf("UDP stream to the granted %v: %v, want access-denied", to, err)
		}
	}
	// Nor are they, or their ports, to bind to.
	for _, ap := range []netip.AddrPort{netip.AddrPortFrom(tcpPeer.Addr(), 0), netip.AddrPortFrom(tcpPeer.Addr(), tcpPeer.Port()+1)} {
		if _, err := tryBind(t, looked, IPv4, ap); err != AccessDenied {
			t.Errorf("TCP bind to %v after the lookup granted its address: %v, want access-denied", ap, err)
		}
	}
	fixed, err := looked.NewUDPSocket(IPv4)
	if err != nil {
		t.Fatal(err)
	}
	defer fixed.Drop()
	if err := fixed.StartBind(ctx, looked.Network(), ToWIT(netip.AddrPortFrom(tcpPeer.Addr(), tcpPeer.Port()+1))); err != AccessDenied {
		t.Errorf("UDP bind to a fixed port of the granted address: %v, want access-denied", err)
	}
	if n := accepted(); n != 1 {
		t.Fatalf("the peer accepted %d connections, want the granted one alone", n)
	}
}

// TestResolveNumericNames: names that end in a number, which no DNS
// name does and which the C library's inet_aton may read as IPv4
// addresses (127.1, 0x7f.1, 0177.0.0.1, 2130706433), are
// invalid-argument before any rule is consulted or any DNS query made,
// under rules for names beside them and under "*" alike; so is a
// literal with a trailing dot. Before, a "*" rule sent them to the host's
// resolver, which queried the DNS for them (Go's) or read them as
// addresses (the C library's), and under other rules they were
// access-denied, the denial naming a rule ParseRule refuses
// (--allow-connect 127.1:PORT). A name ending in a bare 0x is a name.
func TestResolveNumericNames(t *testing.T) {
	res, queried := spellingDNS(t, nil, nil)
	numeric := []string{
		"127.1", "0x7f.1", "0X7F.1", "0177.0.0.1", "2130706433", "0x7f000001", "127.0.0.1.",
		"1.0x7f", "wild.test.1", "svc.allowed.test.0x1", "0x.1", "a.wild.test.08",
	}
	for _, rules := range [][]string{{"svc.allowed.test:443", "*.wild.test:443", "*.0x:443"}, {"*:*"}} {
		var p Policy
		if err := p.AllowConnect(rules...); err != nil {
			t.Fatal(err)
		}
		p.OnDeny(func(d Denial) { t.Errorf("under %q, %v of %q reached the policy", rules, d.Op, d.Name) })
		st := NewStack(&p)
		st.SetResolver(res)
		for _, name := range numeric {
			if r, err := st.Resolve(st.Network(), name); err != InvalidArgument {
				if r != nil {
					r.Drop()
				}
				t.Errorf("under %q, resolve %q: %v, want invalid-argument", rules, name, err)
			}
		}
		r, err := st.Resolve(st.Network(), "a.0x")
		if err != nil {
			t.Fatalf("under %q, resolve %q: %v, want it looked up", rules, "a.0x", err)
		}
		wait(t, r.done)
		r.Drop()
	}
	for {
		select {
		case name := <-queried:
			if name != "a.0x." {
				t.Errorf("a name ending in a number reached the DNS server as %q", name)
			}
			continue
		default:
		}
		break
	}
}

// FuzzDeniedNameIsRule: a name a guest is refused for want of a rule is
// one a rule can name: the denial's name, as Policy.OnDeny reports it
// (and wasitls run suggests it for --allow-connect), is a rule's name
// as written.
func FuzzDeniedNameIsRule(f *testing.F) {
	for _, s := range []string{"example.com", "EXAMPLE.com.", "127.1", "0x7f.1", "a.0x", "a.b.08", "_srv.a", "a-.b", "1a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		var p Policy
		var denied []Denial
		p.OnDeny(func(d Denial) { denied = append(denied, d) })
		st := NewStack(&p)
		r, err := st.Resolve(st.Network(), name)
		if r != nil {
			r.Drop()
		}
		if err != AccessDenied {
			return
		}
		if len(denied) != 1 {
			t.Fatalf("resolve %q: access-denied with %d denials, want 1", name, len(denied))
		}
		rule, err := ParseRule(denied[0].Name + ":443")
		if err != nil || rule.name != denied[0].Name {
			t.Fatalf("resolve %q denied as %q, which no rule names: %v", name, denied[0].Name, err)
		}
	})
}

// FuzzRuleNameNotAddress: every name ParseRule takes for a DNS name, and
// every name a wildcard rule matches, is one the C library's inet_aton
// (glibc's, which the host's resolver uses under cgo: getaddrinfo reads
// such a name as an address before any DNS query) reads as no address.
// Otherwise a rule meant for a name allowed an address (10.0.0.010 is
// 10.0.0.8 to it). "0x" alone is no number to it (strtoul reads its "0"
// and stops at the "x"), so "*.0x" is a rule for names, as to Go's
// resolver.
func FuzzRuleNameNotAddress(f *testing.F) {
	for _, s := range []string{
		"0x", "1.0x", "127.0.0.0x", "0x.1", "0x7f.1", "127.1", "0177.0.0.1", "1.2.3.0x0", "08.1", "1.08",
		"0xg", "1e3", "example.com", "a.0x1", "0x0x1", "*.0x", "*.com", "2130706433", "0x7f000001", "10.0.0.010",
		"*.1", "1.2.3.4.5", "0xffffffff", "4294967296", "0.0.0.09", "*.0x.1", "a.0", "0a", "-1", "_1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		r, err := ParseRule(host + ":443")
		if err != nil || r.name == "" {
			return
		}
		names := []string{r.name}
		if r.wild {
			names = []string{"1." + r.name, "0x1." + r.name, "0." + r.name}
		}
		for _, name := range names {
			if ip, ok := inetAton(name); ok {
				t.Fatalf("rule %q allows the name %q, which inet_aton reads as %v", host, name, ip)
			}
		}
	})
}

// inetAton is glibc's inet_aton, written again from its source
// (resolv/inet_addr.c): one to four numbers as strtoul reads them with
// base 0 (0x: hexadecimal, 0: octal, else decimal), separated by dots,
// the last filling the bytes the others left.
func inetAton(s string) (netip.Addr, bool) {
	var parts []uint64
	for {
		if s == "" || s[0] < '0' || s[0] > '9' {
			return netip.Addr{}, false
		}
		v, n, ok := strtoul0(s)
		if !ok {
			return netip.Addr{}, false
		}
		s = s[n:]
		if !strings.HasPrefix(s, ".") {
			if s != "" {
				return netip.Addr{}, false
			}
			parts = append(parts, v)
			break
		}
		if len(parts) > 2 || v > 0xff {
			return netip.Addr{}, false
		}
		parts = append(parts, v)
		s = s[1:]
	}
	last := parts[len(parts)-1]
	if last > 0xffffffff>>(8*(len(parts)-1)) {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, v := range parts[:len(parts)-1] {
		b[i] = byte(v)
	}
	for i := 3; i >= len(parts)-1; i-- {
		b[i] = byte(last)
		last >>= 8
	}
	return netip.AddrFrom4(b), true
}

// strtoul0 is strtoul(s, &end, 0) on s, which starts with a digit: the
// number and how many bytes it took; not ok past 32 bits.
func strtoul0(s string) (v uint64, n int, ok bool) {
	base := uint64(10)
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") && hexDigit(s[2]) >= 0:
		base, n = 16, 2
	case s[0] == '0':
		base = 8
	}
	for ; n < len(s); n++ {
		d := hexDigit(s[n])
		if d < 0 || uint64(d) >= base {
			break
		}
		if v = v*base + uint64(d); v > 0xffffffff {
			return 0, 0, false
		}
	}
	return v, n, true
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// TestInetAton checks the reference against what glibc's inet_aton
// answers for these spellings.
func TestInetAton(t *testing.T) {
	for s, want := range map[string]string{
		"127.1": "127.0.0.1", "0x7f.1": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "2130706433": "127.0.0.1",
		"0x7f000001": "127.0.0.1", "10.0.0.010": "10.0.0.8", "1.2.3.0x0": "1.2.3.0", "1.2.65535": "1.2.255.255",
		"0x": "", "1.0x": "", "127.0.0.0x": "", "0x.1": "", "08.1": "", "1.2.3.4.5": "", "1.2.65536": "",
		"256.1": "", "4294967296": "", "a.1": "", "1.a": "", "": "", "1.": "",
	} {
		got := ""
		if ip, ok := inetAton(s); ok {
			got = ip.String()
		}
		if got != want {
			t.Errorf("inetAton(%q) = %q, want %q", s, got, want)
		}
	}
}
