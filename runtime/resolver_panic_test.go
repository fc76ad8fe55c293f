package runtime_test

import (
	"context"
	"log/slog"
	"net"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/runtime"
)

// TestResolverDialPanics: Config.Resolver's Dial is the embedder's code,
// which Go's resolver calls on a goroutine of its own, where nothing
// above could recover its panic. A wasm guest whose allowed lookup makes
// it panic gets a resolver failure; the process survives, the panic is
// logged once with its stack (Config.Logger), nothing is left behind,
// and the next guest's lookup is answered.
func TestResolverDialPanics(t *testing.T) {
	server, _ := grantsDNS(t, false)
	policy := policy(t, []string{"*.grants.test:443"}, nil)
	var panics atomic.Bool
	panics.Store(true)
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		if panics.Load() {
			panic("the dialer failed")
		}
		var d net.Dialer
		return d.DialContext(ctx, "udp", server)
	}}
	log := &syncbuf.Buffer{}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Resolver: resolver, Logger: slog.New(slog.NewTextHandler(log, nil))})
	g0 := goruntime.NumGoroutine()
	run := func() string {
		t.Helper()
		var stdout strings.Builder
		if _, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
			Args: []string{"hog", "resolve", "2", "n%d.grants.test"}, Stdout: &stdout}); err != nil {
			t.Fatalf("guest: %v; stdout %q", err, stdout.String())
		}
		return stdout.String()
	}
	if out := run(); !strings.HasPrefix(out, "lookup 1: error ") {
		t.Errorf("guest: stdout %q, want its lookup failed", out)
	}
	const want = "sockets: the resolver's Dial panicked: the dialer failed"
	if out := log.String(); strings.Count(out, want) != 1 || !strings.Contains(out, "goroutine ") {
		t.Errorf("log %q, want one record of %q with its stack", out, want)
	}
	waitGoroutines(t, g0)
	panics.Store(false)
	if out := run(); !strings.HasPrefix(out, "resolved 2: ") {
		t.Errorf("next guest: stdout %q, want its lookups answered", out)
	}
}
