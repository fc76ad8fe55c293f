package runtime_test

import (
	"context"
	"io"
	"net/netip"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// answersPerQuery is how many A records grantsDNS puts in an answer: 64
// of 16 bytes fit the 1,232 bytes Go's resolver asks for.
const answersPerQuery = 64

// grantsDNS serves DNS on loopback UDP: every A query is answered with
// answersPerQuery addresses, the same ones each time or, with fresh, ones
// no answer gave before; other queries with no records. It returns the
// server's address and the count of A queries answered.
func grantsDNS(t *testing.T, fresh bool) (string, *atomic.Int64) {
	var answered atomic.Int64
	next := uint32(0x0a000000) // 10.0.0.0
	server := testnet.ServeUDP(t, func(query []byte) []byte {
		msg, _, err := testnet.DNSAnswer(query, false, func(q dnsmessage.Question) []netip.Addr {
			if q.Type != dnsmessage.TypeA {
				return nil
			}
			answered.Add(1)
			addrs := make([]netip.Addr, answersPerQuery)
			for i := range addrs {
				a := uint32(0x0a010000 + i)
				if fresh {
					next++
					a = next
				}
				addrs[i] = netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
			}
			return addrs
		})
		if err != nil {
			return nil
		}
		return msg
	})
	return server, &answered
}

// heapInUse is the Go heap in use after a collection.
func heapInUse() uint64 {
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// lineWaiter is a guest's stdout that reports the first line starting
// with prefix.
type lineWaiter struct {
	prefix string
	buf    strings.Builder
	found  chan string
}

func (l *lineWaiter) Write(p []byte) (int, error) {
	l.buf.Write(p)
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if strings.HasPrefix(line, l.prefix) && l.found != nil {
			l.found <- line
			l.found = nil
		}
	}
	return len(p), nil
}

// TestLookupGrants: a guest looking up, one after the other, names a
// policy's name rule allows, each answered with 64 addresses by a DNS
// server on loopback, makes the host remember at most
// Limits.LookupGrants of the addresses they returned (the addresses its
// lookups made connectable). Before the limit, the host remembered every
// address any lookup ever returned, and appended the allowing rule to an
// address's list again at every lookup that returned it: 3,000 lookups of
// the same 64 addresses grew the host's heap by tens of MiB, as did 3,000
// lookups of fresh ones, each held until the guest ended. Now, with the
// default limit (4,096) and with one set for the guest, they hold a MiB
// or two, and the guest that crosses the limit has one record naming it
// (capreport).
func TestLookupGrants(t *testing.T) {
	const lookups = 3000
	for _, tc := range []struct {
		name  string
		fresh bool
		lim   runtime.Limits
		want  int // addresses granted at the end
	}{
		{"same", false, runtime.Limits{}, answersPerQuery},
		{"fresh", true, runtime.Limits{}, sockets.DefaultGrantLimit},
		{"fresh-limit-100", true, runtime.Limits{LookupGrants: 100}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, answered := grantsDNS(t, tc.fresh)
			policy := policy(t, []string{"*.grants.test:443"}, nil)
			resolver := testnet.Resolver(server)
			ext := &countingExt{}
			log, rec := capreporttest.New()
			rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Resolver: resolver, Logger: log, Extensions: []runtime.Extension{ext}})
			before := heapInUse()
			stdin, feed := io.Pipe()
			out := &lineWaiter{prefix: "resolved", found: make(chan string, 1)}
			done := make(chan error, 1)
			go func() {
				_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
					Args:  []string{"hog", "resolve", itoa(lookups), "n%d.grants.test"},
					Stdin: stdin, Stdout: out, Stderr: io.Discard, Limits: tc.lim,
				})
				done <- err
			}()
			var line string
			select {
			case line = <-out.found:
			case err := <-done:
				t.Fatalf("guest ended before resolving: %v; stdout %q", err, out.buf.String())
			case <-time.After(60 * time.Second):
				t.Fatalf("guest still resolving after 60 s; stdout %q", out.buf.String())
			}
			grown := int64(heapInUse()) - int64(before)
			granted := ext.guests[0].LookupGrants()
			feed.Close()
			if err := <-done; err != nil {
				t.Fatalf("guest: %v", err)
			}
			if want := "resolved " + itoa(lookups) + ": " + itoa(lookups*answersPerQuery) + " addresses"; line != want {
				t.Fatalf("guest printed %q, want %q", line, want)
			}
			if answered.Load() < lookups {
				t.Fatalf("the DNS server answered %d A queries, want at least %d", answered.Load(), lookups)
			}
			if granted != tc.want {
				t.Errorf("%d addresses granted, want %d", granted, tc.want)
			}
			records := 1 // the fresh ones cross the limit
			if !tc.fresh {
				records = 0
			}
			if err := rec.Check("--max-lookup-grants", tc.want, records); err != nil {
				t.Error(err)
			}
			t.Logf("heap grew by %.1f MiB while the guest held its grants", float64(grown)/(1<<20))
			if grown > 6<<20 {
				t.Errorf("the host's heap grew by %.1f MiB for the grants of %d lookups, want at most 6 MiB", float64(grown)/(1<<20), lookups)
			}
		})
	}
}
