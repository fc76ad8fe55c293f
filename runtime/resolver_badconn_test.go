package runtime_test

import (
	"context"
	"log/slog"
	"net"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/runtime"
)

// writePanicConn is a DNS connection whose Write panics.
type writePanicConn struct{ net.Conn }

func (writePanicConn) Write([]byte) (int, error) { panic("the connection failed") }

// overclaimConn is a DNS connection over UDP (a net.PacketConn, which
// Go's resolver reads a datagram at a time) whose Read claims a byte
// more than its buffer holds.
type overclaimConn struct{ *net.UDPConn }

func (c overclaimConn) Read(p []byte) (int, error) {
	n, err := c.UDPConn.Read(p)
	if err != nil {
		return n, err
	}
	return len(p) + 1, nil
}

// TestResolverDialBadConn: a careless Config.Resolver whose Dial answers
// neither a connection nor an error (nil, nil), a nil *net.UDPConn, or a
// connection whose Write panics or whose Read claims more bytes than its
// buffer holds, fails the wasm guest's lookup with a resolver failure;
// the process survives, a panic is logged once with its stack and the
// method that panicked, nothing is left behind, and the next guest's
// lookup over a sound Dial is answered. Before, Go's resolver used the
// connection on a goroutine of its own (and the stack closed it on
// another): each of these panicked there and ended the process.
func TestResolverDialBadConn(t *testing.T) {
	server, _ := grantsDNS(t, false)
	policy := policy(t, []string{"*.grants.test:443"}, nil)
	dialUDP := func(ctx context.Context) net.Conn {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", server)
		if err != nil {
			panic(err)
		}
		return c
	}
	for _, bad := range []struct {
		name   string
		dial   func(context.Context) net.Conn
		logged string // the panic logged, if any
	}{
		{"nil", func(context.Context) net.Conn { return nil }, ""},
		{"nil UDPConn", func(context.Context) net.Conn { return (*net.UDPConn)(nil) }, ""},
		{"Write panics", func(ctx context.Context) net.Conn { return writePanicConn{dialUDP(ctx)} },
			"sockets: the Write of the resolver's connection panicked: the connection failed"},
		{"Read overclaims", func(ctx context.Context) net.Conn { return overclaimConn{dialUDP(ctx).(*net.UDPConn)} }, ""},
	} {
		t.Run(bad.name, func(t *testing.T) {
			resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return bad.dial(ctx), nil
			}}
			log := &syncbuf.Buffer{}
			rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Resolver: resolver, Logger: slog.New(slog.NewTextHandler(log, nil))})
			g0 := goruntime.NumGoroutine()
			var stdout strings.Builder
			if _, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
				Args: []string{"hog", "resolve", "2", "n%d.grants.test"}, Stdout: &stdout}); err != nil {
				t.Fatalf("guest: %v; stdout %q", err, stdout.String())
			}
			if out := stdout.String(); !strings.HasPrefix(out, "lookup 1: error ") {
				t.Errorf("guest: stdout %q, want its lookup failed", out)
			}
			if bad.logged != "" {
				if out := log.String(); strings.Count(out, bad.logged) != 1 || !strings.Contains(out, "goroutine ") {
					t.Errorf("log %q, want one record of %q with its stack", out, bad.logged)
				}
			}
			waitGoroutines(t, g0)
		})
	}
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialUDP(ctx), nil
	}}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy, Resolver: resolver})
	var stdout strings.Builder
	if _, err := rt.Instantiate(context.Background(), compiled, runtime.ModuleConfig{
		Args: []string{"hog", "resolve", "2", "n%d.grants.test"}, Stdout: &stdout}); err != nil || !strings.HasPrefix(stdout.String(), "resolved 2: ") {
		t.Errorf("next guest: %v, stdout %q, want its lookups answered", err, stdout.String())
	}
}
