package testnet_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wasitls/wasitls/internal/testnet"
)

// TestDNSAnswer: Go's resolver, sent to a ServeUDP server answering with
// DNSAnswer through Resolver, gets the addresses the server gives, A and
// AAAA, and a name given none fails as not found.
func TestDNSAnswer(t *testing.T) {
	want := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::1")}
	server := testnet.ServeUDP(t, func(query []byte) []byte {
		msg, _, err := testnet.DNSAnswer(query, false, func(q dnsmessage.Question) []netip.Addr {
			if q.Name.String() != "svc.test." {
				return nil
			}
			return slices.DeleteFunc(slices.Clone(want), func(a netip.Addr) bool { return a.Is4() != (q.Type == dnsmessage.TypeA) })
		})
		if err != nil {
			t.Errorf("DNSAnswer: %v", err)
		}
		return msg
	})
	r := testnet.Resolver(server)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := r.LookupNetIP(ctx, "ip", "svc.test")
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, netip.Addr.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("resolved %v, want %v", got, want)
	}
	if got, err := r.LookupNetIP(ctx, "ip", "other.test"); err == nil {
		t.Errorf("resolved other.test, given no records, to %v", got)
	}
	if msg, _, err := testnet.DNSAnswer([]byte("not dns"), false, nil); msg != nil || err != nil {
		t.Errorf("DNSAnswer of garbage: %q, %v; want no answer", msg, err)
	}
}
