package sockets

import (
	"net/netip"
	"testing"

	"github.com/wasitls/wasitls/guest/wasi/bindings/wasi/sockets/network"
)

// TestErrorCodesMatchWIT checks that the ErrorCode and IPAddressFamily cases
// are the generated bindings' cases, in WIT order.
func TestErrorCodesMatchWIT(t *testing.T) {
	for i := range errorCodeNames {
		if got, want := ErrorCode(i).String(), network.ErrorCode(i).String(); got != want {
			t.Errorf("error code %d is %s here, %s in the WIT", i, got, want)
		}
	}
	if got := network.ErrorCode(len(errorCodeNames)).String(); got != "ErrorCode(21)" {
		t.Errorf("the WIT has more error codes than ErrorCode: %s", got)
	}
	for _, f := range []IPAddressFamily{IPv4, IPv6} {
		if got, want := f.String(), network.IPAddressFamily(f).String(); got != want {
			t.Errorf("family %d is %s here, %s in the WIT", f, got, want)
		}
	}
}

// TestSocketAddressRoundTrip converts addresses of both families to the
// generated variant and back.
func TestSocketAddressRoundTrip(t *testing.T) {
	for _, s := range []string{"192.0.2.1:443", "[2001:db8::1:2]:8443", "[::ffff:192.0.2.7]:1"} {
		ap := netip.MustParseAddrPort(s)
		for _, fam := range []IPAddressFamily{IPv4, IPv6} {
			a := SocketAddressFrom(ap, fam)
			a.FlowInfo, a.ScopeID = 7, 9
			if a.Family == IPv4 {
				a.FlowInfo, a.ScopeID = 0, 0
			}
			w := a.toWIT()
			if got := socketAddressFromWIT(w); got != a {
				t.Errorf("%s (%s): round trip gives %+v, want %+v", s, fam, got, a)
			}
			if w.Tag == network.IPSocketAddressTagIPv4 != (a.Family == IPv4) {
				t.Errorf("%s (%s): case %s", s, fam, w.Tag)
			}
		}
	}
	ip := addressFromWIT(network.IPAddressIPv6(network.IPv6Address{F0: 0x2001, F1: 0xdb8, F7: 1}))
	if ip.Addr() != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("ip-address: %s", ip.Addr())
	}
}
