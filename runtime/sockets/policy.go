package sockets

import (
	"container/list"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/wasitls/wasitls/internal/capreport"
)

// A Policy decides which addresses guests may connect to, listen on and
// resolve. The zero value denies everything. A Policy is safe for
// concurrent use once configured; configure it before guests run.
//
// Rules are written HOST:PORT.
//
// HOST is one of:
//   - "*": any host, by name or address; as a peer (connect and UDP
//     rules), the addresses "0.0.0.0/0" and "[::/0]" allow, and no
//     other (see below);
//   - an IP address ("127.0.0.1", "[::1]") or a CIDR range ("10.0.0.0/8",
//     "[fd00::/8]"; no bits set past its length, so that "10.0.0.1/8" is
//     an error, not all of 10.0.0.0/8). IPv4-mapped addresses and ranges
//     ("[::ffff:10.0.0.0/104]") are the IPv4 ones; an IPv6 socket cannot
//     use them, and IPv6 rules ("[::/0]") allow no IPv4 address. Nor do
//     they allow the IPv6 addresses a translator takes to IPv4 ones
//     (NAT64's 64:ff9b::/96 and 64:ff9b:1::/48, SIIT's
//     ::ffff:0:0:0/96), or that embed an IPv4 address a relay or a host
//     unwraps (IPv4-compatible ::a.b.c.d but :: and ::1, 6to4's
//     2002::/16, Teredo's 2001::/32): only a rule inside such a range
//     does ("[64:ff9b::/96]", "[64:ff9b::93.184.215.14]",
//     "[2002:c000:201::/48]"). Likewise, no range allows the multicast
//     groups it holds (224.0.0.0/4 in "0.0.0.0/0", ff00::/8 in
//     "[::/0]"): only a rule inside 224.0.0.0/4 or ff00::/8 does
//     ("224.0.0.251:5353"). Nor does "*" or a range allow, as a peer
//     (connect and UDP rules), an address of the host itself or of its
//     link: loopback (127.0.0.0/8, ::1) and link-local (169.254.0.0/16,
//     where clouds serve instance metadata at 169.254.169.254, and
//     fe80::/10): only a rule inside 127.0.0.0/8, ::1, 169.254.0.0/16 or
//     fe80::/10 does ("127.0.0.1:8443", "127.0.0.0/8:*", "[::1]:443",
//     "169.254.169.254:80"). An address is checked as the address it is
//     to the host: an IPv4-mapped one as its IPv4 address (and refused
//     on IPv6 sockets), and the other IPv6 spellings of 127.0.0.1 or
//     169.254.169.254 (IPv4-compatible, NAT64, SIIT, 6to4, Teredo) lie in the
//     ranges above that wide rules do not allow either. Private ranges
//     (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7) are not
//     carved out: wide ranges allow them. Listen rules have no carve-out:
//     they name the guest's own address, and binding 0.0.0.0, which
//     "0.0.0.0/0" allows, takes loopback's clients anyway;
//   - a DNS name ("example.com") or a wildcard name ("*.example.com", which
//     matches the subdomains of example.com but not example.com itself).
//     Names are allowed in connect rules only. A name ending in a number
//     ("127.1", "10.0.0.010", "2130706433": IPv4 in spellings other than
//     four decimal numbers) is an error, and a guest's lookup of one is
//     invalid-argument, whatever the rules.
//
// PORT is a number ("443"), a range ("8000-8999") or "*" for any port;
// port 0 alone, which no connection goes to, is an error in a connect
// rule.
//
// A connect rule with a name allows resolving that name through
// wasi:sockets/ip-name-lookup, and connecting, on the rule's ports, to the
// addresses the lookup returned to that guest instance; nothing else. Names
// no rule matches do not resolve: the lookup fails with access-denied, so a
// guest cannot even learn the addresses. Literal IP addresses "resolve" to
// themselves without a lookup.
//
// The check is on the name, not on what it resolves to: a name rule
// trusts the name's DNS. The addresses a lookup returns become
// connectable without the address rules being consulted. A rule naming
// one host ("localhost:8443", "db.internal:5432") grants every address
// of its answer, loopback and link-local ones included: the operator
// named that host. A wildcard rule ("*.example.com", or "*") trusts every
// name beneath its domain, including one the guest's author controls,
// so it grants no loopback, link-local or unspecified address (127.0.0.1
// or 169.254.169.254 in the answer of a name pointed at them), nor any
// IPv6 address a translator or a relay takes to an IPv4 one or that
// embeds one (NAT64's 64:ff9b::/96 and 64:ff9b:1::/48, SIIT's
// ::ffff:0:0:0/96, IPv4-compatible ::a.b.c.d, 6to4's 2002::/16, Teredo's
// 2001::/32), whatever IPv4 address it holds: its grant is no wider than
// "0.0.0.0/0" and "[::/0]", which allow none of them either (see HOST
// above). Telling 64:ff9b::a9fe:a9fe (169.254.169.254 through a NAT64
// gateway) from a translation of a public address would take decoding
// every layout a prefix of 64:ff9b:1::/48 may have and Teredo's
// obfuscated client, where one missed spelling reaches the host's link.
// On an IPv6-only network with DNS64, where names with IPv4 addresses
// alone answer 64:ff9b::/96 ones, allow that range as a connect rule
// ("[64:ff9b::/96]:443"), as "[::/0]" needs too. The lookup still
// returns these addresses, as the name's answer, and the connect to
// them is access-denied, its [Denial] naming the name. Private addresses
// it grants. The lookup is the host's resolver's,
// as for the host's own programs: its hosts file, and its search domains
// for a name the DNS does not know as written (or one with fewer dots
// than its ndots option). Allow addresses or ranges rather than names
// where that matters.
//
// Listen rules cover binding and listening. Binding to port 0 asks for an
// ephemeral port: the rule must allow port 0 (or "*"). They name the
// socket's own address, not its peers: a listening socket accepts
// clients from any address that reaches it (bind to 127.0.0.1 rather
// than 0.0.0.0 to keep others out), where UDP rules, below, also filter
// what arrives.
//
// UDP rules name the peers a guest may exchange datagrams with (addresses
// and ranges, no names): sending to any other address fails with
// access-denied, and datagrams from any other address are dropped unseen.
// A guest's UDP sockets do not broadcast: sending to a broadcast address
// fails with access-denied whatever the rules, so that one a range holds
// (192.168.1.255 in 192.168.1.128/25) does not reach the rest of its
// network. Nor do wide ranges let it send to a multicast group (see
// HOST above).
// A guest with at least one UDP rule may bind UDP sockets to an ephemeral
// port (port 0) on any local address; binding a fixed port needs a listen
// rule, as for TCP.
//
// [Policy.OnDeny] reports each access the policy refuses, so that a host can
// say which rule is missing rather than leave the guest's access-denied to
// explain itself.
type Policy struct {
	mu      sync.RWMutex
	connect []Rule
	listen  []Rule
	udp     []Rule
	onDeny  func(Denial)
}

// A DenyOp is the kind of access a Policy refused.
type DenyOp string

const (
	DenyConnect DenyOp = "connect"  // a TCP connection to Denial.Addr
	DenyResolve DenyOp = "resolve"  // a lookup of Denial.Name
	DenyListen  DenyOp = "listen"   // binding or listening on Denial.Addr, TCP or UDP
	DenyUDP     DenyOp = "udp"      // sending a datagram to Denial.Addr
	DenyUDPBind DenyOp = "udp-bind" // binding a UDP socket to an ephemeral port without any UDP rule
)

// A Denial is one access a Policy refused a guest.
type Denial struct {
	Op   DenyOp
	Addr netip.AddrPort // every Op but DenyResolve
	// Name is, for DenyResolve, the name, lower case, without a trailing
	// dot. For DenyConnect it is the name whose lookup returned Addr
	// under a wildcard rule, which grants no loopback, link-local or
	// unspecified address, nor an IPv6 one a translator or a relay takes
	// to IPv4 (see Policy), if the instance looked one up; else "".
	Name string
	// GuestID and GuestName name the guest refused, so that a host of
	// many guests under one policy can tell which: the number the
	// runtime gave it (runtime.Guest.ID, what its log records call
	// "guest") and its module name (runtime.ModuleConfig.Name, "" for an
	// anonymous guest). Both are zero for a Stack no runtime named
	// (Stack.SetGuest).
	GuestID   uint64
	GuestName string
}

// OnDeny sets f to be called with every access the policy refuses, before
// the guest's call returns access-denied, on the guest's goroutine: f must
// not block. Datagrams dropped because their sender is not allowed are not
// reported. Set it before guests run, like the rules.
func (p *Policy) OnDeny(f func(Denial)) {
	p.mu.Lock()
	p.onDeny = f
	p.mu.Unlock()
}

// denied reports d to the OnDeny function, if any.
func (p *Policy) denied(d Denial) {
	if p == nil {
		return
	}
	p.mu.RLock()
	f := p.onDeny
	p.mu.RUnlock()
	if f != nil {
		f(d)
	}
}

// A Rule is one parsed HOST:PORT pattern.
type Rule struct {
	any    bool         // HOST is "*"
	prefix netip.Prefix // HOST is an address or range, when valid
	name   string       // HOST is a name (lower case, no trailing dot)
	wild   bool         // name is "*." + name
	lo, hi uint16       // port range, inclusive
	text   string
}

// String returns the rule as written.
func (r Rule) String() string { return r.text }

// ParseRule parses a HOST:PORT pattern.
func ParseRule(s string) (Rule, error) {
	r := Rule{text: s}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return r, fmt.Errorf("sockets: policy rule %q: want HOST:PORT: %v", s, err)
	}
	switch {
	case port == "*":
		r.lo, r.hi = 0, 65535
	case strings.Contains(port, "-"):
		a, b, _ := strings.Cut(port, "-")
		lo, err1 := strconv.ParseUint(a, 10, 16)
		hi, err2 := strconv.ParseUint(b, 10, 16)
		if err1 != nil || err2 != nil || lo > hi {
			return r, fmt.Errorf("sockets: policy rule %q: bad port range %q", s, port)
		}
		r.lo, r.hi = uint16(lo), uint16(hi)
	default:
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return r, fmt.Errorf("sockets: policy rule %q: bad port %q (want a number, a range such as 8000-8999, or *)", s, port)
		}
		r.lo, r.hi = uint16(p), uint16(p)
	}
	switch {
	case host == "":
		return r, fmt.Errorf("sockets: policy rule %q: no HOST: write *:%s for every address, or an address such as 127.0.0.1:%s", s, port, port)
	case host == "*":
		r.any = true
	case strings.Contains(host, "/"):
		pfx, err := netip.ParsePrefix(host)
		if err != nil {
			return r, fmt.Errorf("sockets: policy rule %q: bad address range: %v", s, err)
		}
		if m := pfx.Masked(); m != pfx {
			// 192.168.1.10/24, an interface's address as ip(8) shows
			// it, would otherwise allow the whole network.
			return r, fmt.Errorf("sockets: policy rule %q: %v has bits set past its length: write %v for the range, or %v for the address",
				s, pfx, m, pfx.Addr())
		}
		if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
			// An IPv4-mapped range is the IPv4 range, as an
			// IPv4-mapped address is the IPv4 address.
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		r.prefix = pfx
	default:
		if ip, err := netip.ParseAddr(host); err == nil {
			ip = ip.Unmap()
			r.prefix = netip.PrefixFrom(ip, ip.BitLen())
			break
		}
		name := normalizeName(host)
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			r.wild, name = true, rest
		}
		if !validName(name) {
			return r, fmt.Errorf("sockets: policy rule %q: %q is neither an address, a range nor a DNS name", s, host)
		}
		if numericName(name) {
			// 127.1, 2130706433, 0x7f000001, 10.0.0.010: no DNS name
			// ends in a number (RFC 1123, section 2.1), and netip
			// takes none of these for an address. Taken as a name, the
			// rule allowed what the host's resolver made of it: nothing
			// (Go's), or another address than meant (the C library's
			// inet_aton reads 010 as octal 8).
			return r, fmt.Errorf("sockets: policy rule %q: %q is not an address (write IPv4 as four numbers from 0 to 255 without leading zeros, such as 127.0.0.1) nor a DNS name (whose last label is never a number)", s, host)
		}
		r.name = name
	}
	return r, nil
}

// numericName reports whether the valid name ends in a number, which no
// DNS name does: the C library may read it as an IPv4 address.
func numericName(name string) bool {
	return numericLabel(name[strings.LastIndexByte(name, '.')+1:])
}

// numericLabel reports whether label is a number, decimal or 0x
// hexadecimal, as the C library's inet_aton reads IPv4 addresses.
func numericLabel(label string) bool {
	digits := "0123456789"
	if rest, ok := strings.CutPrefix(label, "0x"); ok {
		label, digits = rest, "0123456789abcdef"
	}
	return label != "" && strings.Trim(label, digits) == ""
}

// maxNameLen is the length of the longest DNS name, without a trailing dot.
const maxNameLen = 253

func validName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (r Rule) portOK(port uint16) bool { return port >= r.lo && port <= r.hi }

func (r Rule) addrOK(ip netip.Addr) bool {
	if r.any {
		return true
	}
	ip = ip.Unmap()
	if !r.prefix.IsValid() || !r.prefix.Contains(ip) {
		return false
	}
	if c, ok := confined(ip); ok {
		// An address a translator or a relay takes to IPv4, or a
		// multicast group, is allowed by a rule inside its range, not
		// by a wider one ("[::/0]" allows no IPv4 address, and
		// "0.0.0.0/0" names peers, not groups).
		return r.within(c)
	}
	return true
}

// within reports whether r is a range (or an address) inside c.
func (r Rule) within(c netip.Prefix) bool {
	return r.prefix.IsValid() && r.prefix.Bits() >= c.Bits() && c.Contains(r.prefix.Addr())
}

// peerOK reports whether r allows ip as a peer (connect and UDP rules):
// as addrOK, but an address of the host itself or of its link
// (hostRanges) only under a rule inside its range, and under "*" only
// what "0.0.0.0/0" and "[::/0]" allow: not the confined ranges, where
// the IPv6 spellings of 127.0.0.1 and 169.254.169.254 lie.
func (r Rule) peerOK(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, h := range hostRanges {
		if h.Contains(ip) && !r.within(h) {
			return false
		}
	}
	if _, ok := confined(ip); ok && r.any {
		return false
	}
	return r.addrOK(ip)
}

// hostRanges are the ranges whose addresses, as peers, only a rule
// inside the range allows (see Policy): loopback, the host itself, and
// link-local addresses, its link's (169.254.169.254 is the metadata
// service of the cloud the host runs in, with its credentials). A range
// such as "0.0.0.0/0" names the internet, not the host.
var hostRanges = [...]netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
}

// wildWithheld reports whether ip is an address a wildcard rule's lookup
// does not grant (see Policy): loopback, link-local or unspecified, or
// one of confinedRanges, an IPv6 address a translator or a relay takes
// to an IPv4 one, or a multicast group. Its grant is no wider than
// "0.0.0.0/0" and "[::/0]", which allow none of them either.
func wildWithheld(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
		return true
	}
	_, ok := confined(ip)
	return ok
}

// confinedRanges are the ranges whose addresses only a rule inside the
// range allows (see Policy).
//
// The first are IPv6 ranges whose addresses reach IPv4 ones. Translators
// on the path take them to IPv4 addresses: NAT64's well-known prefix (RFC
// 6052) and its prefix for local use (RFC 8215, which may translate to
// private addresses), and SIIT's IPv4-translated addresses (RFC 2765). On
// a network with NAT64 (IPv6-only hosts, DNS64), a connection to
// 64:ff9b::10.0.0.5 is one to 10.0.0.5. Others embed an IPv4 address a
// relay or a host unwraps to reach it: IPv4-compatible addresses
// (::a.b.c.d, RFC 4291, which a host with an automatic tunnel sends over
// IPv4 to a.b.c.d; :: and ::1 are IPv6's own), 6to4's 2002::/16 (RFC
// 3056: 2002:a.b.c.d::/48 is the site at a.b.c.d, which a relay reaches
// over IPv4) and Teredo's 2001::/32 (RFC 4380: the server's and the
// client's IPv4 addresses, a relay's way to them).
//
// The last are the multicast ranges (224.0.0.0/4, ff00::/8): a datagram
// to a group reaches every host of the network that joined it (mDNS,
// SSDP's UPnP devices, routers), not one peer. Wide ranges that hold them
// ("0.0.0.0/0", "[::/0]") name peers; a rule such as
// "224.0.0.251:5353" names a group.
var confinedRanges = [...]netip.Prefix{
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
	ipv4Compatible,
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("ff00::/8"),
}

// ipv4Compatible holds the IPv4-compatible addresses, and :: and ::1,
// which are not.
var ipv4Compatible = netip.MustParsePrefix("::/96")

// confined returns the range of confinedRanges that holds ip, if any.
func confined(ip netip.Addr) (netip.Prefix, bool) {
	for _, c := range confinedRanges {
		if !c.Contains(ip) {
			continue
		}
		if c == ipv4Compatible && (ip.IsUnspecified() || ip.IsLoopback()) {
			return netip.Prefix{}, false
		}
		return c, true
	}
	return netip.Prefix{}, false
}

func (r Rule) nameOK(name string) bool {
	if r.any {
		return true
	}
	if r.name == "" {
		return false
	}
	if r.wild {
		return strings.HasSuffix(name, "."+r.name)
	}
	return name == r.name
}

// AllowConnect adds connect rules.
func (p *Policy) AllowConnect(patterns ...string) error {
	return p.add(&p.connect, patterns, true)
}

// AllowListen adds listen (and bind) rules. Names are not allowed.
func (p *Policy) AllowListen(patterns ...string) error {
	return p.add(&p.listen, patterns, false)
}

// AllowUDP adds UDP peer rules. Names are not allowed.
func (p *Policy) AllowUDP(patterns ...string) error {
	return p.add(&p.udp, patterns, false)
}

// CanUDP reports whether a rule allows exchanging datagrams with ap.
func (p *Policy) CanUDP(ap netip.AddrPort) bool {
	if p == nil {
		return false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, r := range p.udp {
		if r.peerOK(ap.Addr()) && r.portOK(ap.Port()) {
			return true
		}
	}
	return false
}

// HasUDP reports whether any UDP rule exists.
func (p *Policy) HasUDP() bool {
	if p == nil {
		return false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.udp) > 0
}

func kind(p *Policy, dst *[]Rule) string {
	if dst == &p.udp {
		return "UDP"
	}
	return "listen"
}

func (p *Policy) add(dst *[]Rule, patterns []string, names bool) error {
	var errs []error
	var rules []Rule
	for _, s := range patterns {
		r, err := ParseRule(s)
		if err == nil && !names && r.name != "" {
			err = fmt.Errorf("sockets: %s rule %q: names are not allowed, use an address or a range", kind(p, dst), s)
		}
		if err == nil && dst == &p.connect && r.hi == 0 {
			// Port 0 asks a listener for any port; no connection goes to
			// it, so the rule would allow nothing.
			err = fmt.Errorf("sockets: connect rule %q: port 0 allows no connection: write * for every port, or the port the guest connects to", s)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	p.mu.Lock()
	*dst = append(*dst, rules...)
	p.mu.Unlock()
	return nil
}

// CanConnect reports whether a rule allows connecting to ap by address.
// Addresses learnt through an allowed name lookup are checked by the
// per-instance grants, not here.
func (p *Policy) CanConnect(ap netip.AddrPort) bool {
	if p == nil {
		return false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, r := range p.connect {
		if r.peerOK(ap.Addr()) && r.portOK(ap.Port()) {
			return true
		}
	}
	return false
}

// CanListen reports whether a rule allows binding or listening on ap.
func (p *Policy) CanListen(ap netip.AddrPort) bool {
	if p == nil {
		return false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, r := range p.listen {
		if r.addrOK(ap.Addr()) && r.portOK(ap.Port()) {
			return true
		}
	}
	return false
}

// resolveRules returns the connect rules that allow resolving name, which
// must be lower case without a trailing dot.
func (p *Policy) resolveRules(name string) []Rule {
	if p == nil {
		return nil
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []Rule
	for _, r := range p.connect {
		if r.nameOK(name) {
			out = append(out, r)
		}
	}
	return out
}

// CanResolve reports whether name may be looked up: whether it is a DNS
// name a connect rule names. It is false for what a lookup refuses as
// invalid-argument whatever the rules (a name ending in a number, a
// name of other characters than a DNS name's), and for a literal address,
// which resolves to itself without a lookup.
func (p *Policy) CanResolve(name string) bool {
	_, dns, ok := lookupName(name)
	return ok && dns != "" && len(p.resolveRules(dns)) > 0
}

// normalizeName lower-cases name's ASCII letters, its only ones a valid
// name holds, and drops one trailing dot. Not strings.ToLower, which
// lower-cases the Kelvin sign (U+212A) to an ASCII k: a guest's
// "\u212a.example.com" was looked up as k.example.com, under rules
// for that name, and a rule naming it allowed the ASCII one.
func normalizeName(name string) string {
	return strings.TrimSuffix(strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, name), ".")
}

// DefaultGrantLimit is how many addresses a guest instance's lookups
// keep connectable unless SetGrantLimit says otherwise.
const DefaultGrantLimit = 4096

// grants records, per guest instance, the addresses an allowed lookup
// returned and the rules that allowed it, whose ports are permitted for
// them: at most limit addresses (zero: DefaultGrantLimit), each with each
// rule once. Past the limit the least recently granted address is
// forgotten: a guest's lookups return what a DNS server says, as many
// addresses as it likes, and the host would otherwise keep every one of
// them, and the rule again at every lookup, until the guest ends.
type grants struct {
	mu    sync.Mutex
	limit int
	m     map[netip.Addr]*list.Element // of *grant, in order
	order list.List                    // least recently granted first
	caps  *capreport.Reporter          // told of each address forgotten for the limit
}

// A grant is one address a lookup made connectable, or that a lookup
// returned under a wildcard rule that grants it no port (withheld).
type grant struct {
	ip       netip.Addr
	rules    []Rule
	withheld string // the name of the last lookup whose wildcard rule did not grant ip, if any
}

// add grants ips, the answer of a lookup of name allowed by rules: an
// address a wildcard rule withholds (loopback, link-local, unspecified,
// or a translator's or relay's IPv6 spelling of IPv4) only for the rules
// that name the host (see Policy).
func (g *grants) add(name string, ips []netip.Addr, rules []Rule) {
	rules = slices.Clip(rules) // shared by the new grants; appends copy
	var named []Rule           // rules, but the wildcard ones
	for _, r := range rules {
		if r.name != "" && !r.wild {
			named = append(named, r)
		}
	}
	wide := len(named) < len(rules)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = make(map[netip.Addr]*list.Element)
	}
	limit := g.limit
	if limit <= 0 {
		limit = DefaultGrantLimit
	}
	for _, ip := range ips {
		ip = ip.Unmap()
		rules, withheld := rules, ""
		if wide && wildWithheld(ip) {
			rules, withheld = named, name
		}
		if e, ok := g.m[ip]; ok {
			gr := e.Value.(*grant)
			for _, r := range rules {
				if !slices.Contains(gr.rules, r) {
					gr.rules = append(gr.rules, r)
				}
			}
			if withheld != "" {
				gr.withheld = withheld
			}
			g.order.MoveToBack(e)
			continue
		}
		if g.order.Len() >= limit {
			g.caps.Refused(capreport.LookupGrants, limit)
			oldest := g.order.Front()
			delete(g.m, oldest.Value.(*grant).ip)
			g.order.Remove(oldest)
		}
		g.m[ip] = g.order.PushBack(&grant{ip: ip, rules: rules, withheld: withheld})
	}
}

// withheld returns the name of the last lookup that returned ip under a
// wildcard rule that did not grant it, if any.
func (g *grants) withheld(ip netip.Addr) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e, ok := g.m[ip.Unmap()]; ok {
		return e.Value.(*grant).withheld
	}
	return ""
}

// len reports how many addresses are granted.
func (g *grants) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.order.Len()
}

func (g *grants) allows(ap netip.AddrPort) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.m[ap.Addr().Unmap()]
	if !ok {
		return false
	}
	for _, r := range e.Value.(*grant).rules {
		if r.portOK(ap.Port()) {
			return true
		}
	}
	return false
}
