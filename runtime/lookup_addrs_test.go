package runtime_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
)

// TestLookupAddrs: a wasm guest holding the streams of its lookups, each
// answered with 64 addresses by a DNS server on loopback, reading none,
// has the host hold at most Limits.LookupAddrs of their addresses for it:
// the runtime's, or the one its ModuleConfig sets. Five lookups hold 320
// addresses under the default limit (4,096), 100 under a limit of 100
// for the runtime, 40 under 40 for the guest.
func TestLookupAddrs(t *testing.T) {
	server, _ := grantsDNS(t, false)
	policy := policy(t, []string{"*.addrs.test:443"}, nil)
	resolver := testnet.Resolver(server)
	for _, tc := range []struct {
		name       string
		rt, module runtime.Limits
		want       int
	}{
		{"default", runtime.Limits{}, runtime.Limits{}, 5 * answersPerQuery},
		{"runtime-100", runtime.Limits{LookupAddrs: 100}, runtime.Limits{}, 100},
		{"guest-40", runtime.Limits{LookupAddrs: 100}, runtime.Limits{LookupAddrs: 40}, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext := &countingExt{}
			rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Resolver: resolver, Limits: tc.rt,
				Extensions: []runtime.Extension{ext}})
			stdin, feed := io.Pipe()
			out := &lineWaiter{prefix: "held", found: make(chan string, 1)}
			done := make(chan error, 1)
			go func() {
				_, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
					Args:  []string{"hog", "hold", "5", "n%d.addrs.test"},
					Stdin: stdin, Stdout: out, Stderr: io.Discard, Limits: tc.module,
				})
				done <- err
			}()
			select {
			case <-out.found:
			case err := <-done:
				t.Fatalf("guest ended before holding its lookups: %v; stdout %q", err, out.buf.String())
			case <-time.After(30 * time.Second):
				t.Fatalf("guest still looking up after 30 s; stdout %q", out.buf.String())
			}
			held := ext.guests[0].LookupAddrs()
			feed.Close()
			if err := <-done; err != nil {
				t.Fatalf("guest: %v", err)
			}
			if held != tc.want {
				t.Errorf("the guest's answers hold %d addresses, want %d", held, tc.want)
			}
		})
	}
}
