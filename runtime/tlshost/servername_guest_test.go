package tlshost_test

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/wasitls/wasitls/runtime/sockets"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestServerNameGrantsNothing: a TLS connection's server name, the
// one the handshake verified included, is no network rule. A wasm guest
// allowed to connect to one loopback address and port, by address,
// completes a handshake there with server name "localhost" (verified
// against the test CA), then looks "localhost" up and connects to it by
// name: both are access-denied, the lookup refused before any query
// (Policy.OnDeny sees it), every backend alike. The wasi:tls host never
// sees the socket policy: the guest's transport is the streams of a
// socket the policy already allowed.
func TestGuestServerNameGrantsNothing(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		port, _ := goHTTPS(t, p, nil)
		policy := new(sockets.Policy)
		if err := policy.AllowConnect(net.JoinHostPort("127.0.0.1", port)); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var denied []sockets.Denial
		policy.OnDeny(func(d sockets.Denial) {
			mu.Lock()
			d.GuestID = 0 // the guest's number (runtime's TestDenialNamesGuest)
			denied = append(denied, d)
			mu.Unlock()
		})
		gr := newGuestRuntimePolicy(t, tlshost.Config{BackendName: backend}, p, policy)
		out, err := gr.start(t, "github.com/wasitls/wasitls/runtime/tlshost/testdata/servername", nil, net.JoinHostPort("127.0.0.1", port), "localhost").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "handshake: ok\n", "resolve: lookup localhost: wasi:sockets: access-denied\n", "dial: dial tcp: lookup localhost: wasi:sockets: access-denied\n")
		if strings.Contains(out, "dial: connected") {
			t.Errorf("the guest connected by the server name:\n%s", out)
		}
		mu.Lock()
		defer mu.Unlock()
		want := sockets.Denial{Op: sockets.DenyResolve, Name: "localhost"}
		if len(denied) != 2 || denied[0] != want || denied[1] != want {
			t.Errorf("denials %v, want the two lookups of localhost", denied)
		}
	})
}
