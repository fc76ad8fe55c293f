package runtime_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/sockets"
)

// TestSendLinger: a guest that fills a TCP connection to a peer that reads
// nothing and drops it has the host hold the socket, counted against
// Limits.Sockets, for Limits.SendLinger (here 300 ms, set per guest), not
// the default's 30 s, then release it: its next socket is made then.
func TestSendLinger(t *testing.T) {
	const linger = 300 * time.Millisecond
	peer := testnet.Serve(t, nil) // reads nothing, until the test ends
	policy := new(sockets.Policy)
	if err := policy.AllowConnect("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	rt, compiled := hogRuntimeConfig(t, runtime.Config{Network: policy})
	port := strconv.Itoa(peer.Port)
	stdout, stderr, err := runHog(rt, compiled, runtime.Limits{Sockets: 1, SendLinger: linger}, "linger", port)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	var ms int
	if _, err := fmt.Sscanf(stdout, "socket again after %d ms", &ms); err != nil {
		t.Fatalf("guest: %q; want a socket again after the linger", stdout)
	}
	t.Logf("socket again %d ms after the drop, with a linger of %v", ms, linger)
	// The linger starts at the output stream's drop, just before the
	// guest starts its clock.
	if got := time.Duration(ms) * time.Millisecond; got < linger-50*time.Millisecond || got > linger+5*time.Second {
		t.Errorf("a socket again %v after the drop, want after the linger of %v (and well before the default's %v)", got, linger, 30*time.Second)
	}
}
