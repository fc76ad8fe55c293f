package runtime_test

import (
	"fmt"
	goruntime "runtime"
	"sync/atomic"
	"testing"

	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// TestLookupLimit: a guest starting lookups of names the policy allows
// (each its own, so that Go's resolver does not merge them), against a DNS server on loopback that never answers, and
// dropping none of them, runs at most Limits.Lookups at once: the next
// resolve-addresses fails with temporary-resolver-failure. Before the
// limit, each lookup held a goroutine and a socket to the DNS server for
// the resolver's timeout, as many as the handle limit (262,144) allowed.
// When the guest exits, its lookups end and their goroutines with them, at
// once: the DNS connections here ignore deadlines, so that only the host
// closing them ends a lookup, not the resolver's own timeout (5 s by
// default, which the goroutine check would race).
// The limit is per guest, overridable per guest.
func TestLookupLimit(t *testing.T) {
	var queries atomic.Int64
	silent := testnet.ServeUDP(t, func([]byte) []byte {
		queries.Add(1)
		return nil
	})
	policy := policy(t, []string{"*.silent.test:443"}, nil)
	resolver := testnet.SilentResolver(silent)
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Resolver: resolver, Limits: runtime.Limits{Lookups: 8}})
	goroutines := goruntime.NumGoroutine()
	for _, tc := range []struct {
		lim  runtime.Limits
		want int
	}{{runtime.Limits{}, 9}, {runtime.Limits{Lookups: 3}, 4}} {
		stdout, _, err := runHog(rt, compiled, tc.lim, "lookups", "1000", "n%d.silent.test")
		if want := fmt.Sprintf("lookup %d: error %d", tc.want, sockets.TemporaryResolverFailure); err != nil || lastLine(stdout) != want {
			t.Errorf("guest with limits %+v: %q, %v; want %q", tc.lim, lastLine(stdout), err, want)
		}
		waitGoroutines(t, goroutines)
	}
	if queries.Load() == 0 {
		t.Error("the DNS server saw no query: the lookups did not run")
	}
}
