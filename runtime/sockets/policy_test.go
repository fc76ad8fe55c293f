package sockets

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
)

func TestPolicyZeroDenies(t *testing.T) {
	var p Policy
	ap := netip.MustParseAddrPort("127.0.0.1:80")
	if p.CanConnect(ap) || p.CanListen(ap) || p.CanResolve("localhost") {
		t.Fatal("zero policy allowed something")
	}
	var nilp *Policy
	if nilp.CanConnect(ap) || nilp.CanListen(ap) || nilp.CanResolve("localhost") {
		t.Fatal("nil policy allowed something")
	}
}

func TestPolicyRules(t *testing.T) {
	var p Policy
	if err := p.AllowConnect("127.0.0.1:8000-8999", "[::1]:443", "10.0.0.0/8:*", "example.com:443", "*.example.org:*"); err != nil {
		t.Fatal(err)
	}
	if err := p.AllowListen("127.0.0.1:0", "[::]:*"); err != nil {
		t.Fatal(err)
	}
	connect := []struct {
		ap   string
		want bool
	}{
		{"127.0.0.1:8000", true},
		{"127.0.0.1:8999", true},
		{"127.0.0.1:9000", false},
		{"127.0.0.2:8000", false},
		{"[::ffff:127.0.0.1]:8500", true},
		{"[::1]:443", true},
		{"[::1]:444", false},
		{"10.1.2.3:1", true},
		{"11.1.2.3:1", false},
	}
	for _, c := range connect {
		if got := p.CanConnect(netip.MustParseAddrPort(c.ap)); got != c.want {
			t.Errorf("CanConnect(%s) = %v, want %v", c.ap, got, c.want)
		}
	}
	listen := []struct {
		ap   string
		want bool
	}{
		{"127.0.0.1:0", true},
		{"127.0.0.1:80", false},
		{"[::]:80", true},
		{"0.0.0.0:80", false},
	}
	for _, c := range listen {
		if got := p.CanListen(netip.MustParseAddrPort(c.ap)); got != c.want {
			t.Errorf("CanListen(%s) = %v, want %v", c.ap, got, c.want)
		}
	}
	names := []struct {
		name string
		want bool
	}{
		{"example.com", true},
		{"EXAMPLE.com.", true},
		{"www.example.com", false},
		{"a.example.org", true},
		{"a.b.example.org", true},
		{"example.org", false},
		{"localhost", false},
	}
	for _, c := range names {
		if got := p.CanResolve(c.name); got != c.want {
			t.Errorf("CanResolve(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPolicyGrants(t *testing.T) {
	var p Policy
	if err := p.AllowConnect("example.com:443"); err != nil {
		t.Fatal(err)
	}
	var g grants
	g.add("example.com", []netip.Addr{netip.MustParseAddr("192.0.2.1")}, p.resolveRules("example.com"))
	if !g.allows(netip.MustParseAddrPort("192.0.2.1:443")) {
		t.Error("granted address denied")
	}
	if g.allows(netip.MustParseAddrPort("192.0.2.1:80")) || g.allows(netip.MustParseAddrPort("192.0.2.2:443")) {
		t.Error("grant leaked to another port or address")
	}
}

// Grants keep each allowing rule once per address, however many lookups
// return it, and at most their limit of addresses, forgetting the least
// recently granted.
func TestGrantsBounded(t *testing.T) {
	var p Policy
	for _, r := range []string{"*.example.com:443", "a.example.com:80"} {
		if err := p.AllowConnect(r); err != nil {
			t.Fatal(err)
		}
	}
	g := grants{limit: 3}
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
	for range 1000 {
		g.add("a.example.com", []netip.Addr{addr(1)}, p.resolveRules("a.example.com"))
		g.add("b.example.com", []netip.Addr{addr(1)}, p.resolveRules("b.example.com"))
	}
	if n := len(g.m[addr(1)].Value.(*grant).rules); n != 2 {
		t.Errorf("address granted by 2000 lookups of 2 rules holds %d rules, want 2", n)
	}
	if !g.allows(netip.AddrPortFrom(addr(1), 80)) || !g.allows(netip.AddrPortFrom(addr(1), 443)) {
		t.Error("granted ports denied")
	}
	g.add("b.example.com", []netip.Addr{addr(2), addr(3)}, p.resolveRules("b.example.com"))
	g.add("b.example.com", []netip.Addr{addr(1)}, p.resolveRules("b.example.com")) // 1 is now the most recent
	g.add("b.example.com", []netip.Addr{netip.AddrFrom16(addr(4).As16())}, p.resolveRules("b.example.com"))
	if g.len() != 3 {
		t.Fatalf("%d addresses granted, want the limit, 3", g.len())
	}
	for i, want := range []bool{1: true, 2: false, 3: true, 4: true} {
		if i == 0 {
			continue
		}
		if got := g.allows(netip.AddrPortFrom(addr(i), 443)); got != want {
			t.Errorf("address %d allowed %v, want %v", i, got, want)
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, s := range []string{"", "example.com", "host:99999", "host:9-1", "10.0.0.0/33:1", "bad_host!:1", "a..b:1"} {
		if _, err := ParseRule(s); err == nil {
			t.Errorf("ParseRule(%q) succeeded", s)
		}
	}
	var p Policy
	if err := p.AllowListen("example.com:80"); err == nil {
		t.Error("listen rule with a name accepted")
	}
	// Port 0 is a listener's "any port": a connect rule naming it alone
	// allowed nothing, silently (before, it was accepted).
	for _, rule := range []string{"127.0.0.1:0", "example.com:0", "*:0-0"} {
		if err := p.AllowConnect(rule); err == nil || !strings.Contains(err.Error(), "port 0 allows no connection: write * for every port") {
			t.Errorf("connect rule %q: %v, want an error saying to write *", rule, err)
		}
	}
	if err := p.AllowListen("127.0.0.1:0"); err != nil {
		t.Errorf("listen rule for an ephemeral port: %v", err)
	}
	// The mistakes a Go programmer makes (":8443" as in net.Listen, a
	// service name as the port, an interface's address as a range) say
	// what to write instead.
	for _, tc := range []struct{ rule, want string }{
		{":8443", `no HOST: write *:8443 for every address, or an address such as 127.0.0.1:8443`},
		{"example.com:https", `bad port "https" (want a number, a range such as 8000-8999, or *)`},
		{"192.168.1.10/24:80", `192.168.1.10/24 has bits set past its length: write 192.168.1.0/24 for the range, or 192.168.1.10 for the address`},
		{"127.0.0.1/0:80", `write 0.0.0.0/0 for the range, or 127.0.0.1 for the address`},
		{"[fd00::1/8]:80", `write fd00::/8 for the range, or fd00::1 for the address`},
		// IPv4 spellings netip refuses were taken as DNS names, which
		// the host's resolver made nothing of (Go's) or another address
		// (the C library's: 10.0.0.010 is 10.0.0.8).
		{"127.1:80", `"127.1" is not an address (write IPv4 as four numbers from 0 to 255 without leading zeros`},
		{"10.0.0.010:80", `"10.0.0.010" is not an address`},
		{"2130706433:80", `"2130706433" is not an address`},
		{"0x7f000001:80", `"0x7f000001" is not an address`},
		{"0x7F.1:80", `"0x7F.1" is not an address`},
		{"*.1:80", `"*.1" is not an address`},
		// Unicode lower-cases the Kelvin sign to an ASCII k: the rule
		// allowed key.example.com.
		{"\u212aey.example.com:443", `is neither an address, a range nor a DNS name`},
	} {
		if _, err := ParseRule(tc.rule); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRule(%q): %v; want it to contain %q", tc.rule, err, tc.want)
		}
	}
}

func TestWITAddressRoundTrip(t *testing.T) {
	for _, s := range []string{"127.0.0.1:80", "[::1]:443", "[2001:db8::1:2]:65535", "[::ffff:10.0.0.1]:1", "0.0.0.0:0"} {
		ap := netip.MustParseAddrPort(s)
		if got := FromWIT(ToWIT(ap)); got != ap {
			t.Errorf("round trip of %s gave %s", ap, got)
		}
	}
	if FamilyOf(netip.MustParseAddr("::ffff:10.0.0.1")) != IPv6 || FamilyOf(netip.MustParseAddr("10.0.0.1")) != IPv4 {
		t.Error("FamilyOf")
	}
}

// TestPolicyOnDeny: every access the policy refuses reaches OnDeny, with
// what was asked for, before the guest's call returns access-denied; what
// it allows does not.
func TestPolicyOnDeny(t *testing.T) {
	p := udpPolicy(t, "127.0.0.2:53")
	if err := p.AllowConnect("127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	var got []Denial
	p.OnDeny(func(d Denial) { got = append(got, d) })
	st := NewStack(p)
	ap := netip.MustParseAddrPort

	s := mustSocket(t, st)
	defer s.Close()
	if err := s.StartBind(bg, st.Network(), ToWIT(ap("127.0.0.1:0"))); err != AccessDenied {
		t.Fatalf("bind: %v, want access-denied", err)
	}
	if err := s.StartConnect(bg, st.Network(), ToWIT(ap("127.0.0.1:2"))); err != AccessDenied {
		t.Fatalf("connect: %v, want access-denied", err)
	}
	if _, err := st.Resolve(st.Network(), "Example.COM."); err != AccessDenied {
		t.Fatalf("resolve: %v, want access-denied", err)
	}
	u := boundUDP(t, st)
	defer u.Drop()
	if _, err := u.Stream(bg, cabi.Some(ToWIT(ap("127.0.0.3:53")))); err != AccessDenied {
		t.Fatalf("UDP stream to a peer no rule names: %v, want access-denied", err)
	}
	fixed, err := st.NewUDPSocket(IPv4)
	if err != nil {
		t.Fatal(err)
	}
	defer fixed.Drop()
	if err := fixed.StartBind(bg, st.Network(), ToWIT(ap("127.0.0.1:5353"))); err != AccessDenied {
		t.Fatalf("UDP bind to a fixed port: %v, want access-denied", err)
	}
	noUDP := NewStack(new(Policy))
	noUDP.policy.OnDeny(func(d Denial) { got = append(got, d) })
	eph, err := noUDP.NewUDPSocket(IPv4)
	if err != nil {
		t.Fatal(err)
	}
	defer eph.Drop()
	if err := eph.StartBind(bg, noUDP.Network(), ToWIT(ap("127.0.0.1:0"))); err != AccessDenied {
		t.Fatalf("UDP bind without UDP rules: %v, want access-denied", err)
	}

	want := []Denial{
		{Op: DenyListen, Addr: ap("127.0.0.1:0")},
		{Op: DenyConnect, Addr: ap("127.0.0.1:2")},
		{Op: DenyResolve, Name: "example.com"},
		{Op: DenyUDP, Addr: ap("127.0.0.3:53")},
		{Op: DenyListen, Addr: ap("127.0.0.1:5353")},
		{Op: DenyUDPBind, Addr: ap("127.0.0.1:0")},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("denials\n got %+v\nwant %+v", got, want)
	}
}

// TestCanResolveInvalidNames: CanResolve says no to what a lookup refuses
// as invalid-argument whatever the rules, under a rule for any name and a
// wildcard one. Before, it asked the rules only: a name ending in a
// number (which the C library reads as an address), a Kelvin sign or a
// space before ".example.com", an empty name, all "could be looked up".
func TestCanResolveInvalidNames(t *testing.T) {
	var p Policy
	if err := p.AllowConnect("*:443", "*.example.com:443"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.1", "a.0x7f", "\u212a.example.com", "a b.example.com", "", ".", "a..", "127.0.0.1", "[::1]"} {
		if p.CanResolve(name) {
			t.Errorf("CanResolve(%q) = true", name)
		}
	}
	for _, name := range []string{"a.example.com", "A.Example.COM.", "localhost", "a.0x"} {
		if !p.CanResolve(name) {
			t.Errorf("CanResolve(%q) = false", name)
		}
	}
}
