package tlshost_test

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestRedialAfterDrop: a guest under a socket limit of 1 that drops
// a client handshake stalled on a silent loopback peer (its connection,
// its handshake's futures and its socket) and dials again at once gets
// its socket, every time, on every backend, whether the handshake ran on
// a goroutine of the host, paused on the guest's wait or is the draft's,
// and so does one dropping a handshake suspended at
// verify-server-identity, which sends its alert first. Before, the socket
// was closed when the handshake's goroutine returned, a few milliseconds
// later, and one of the first few dials failed with new-socket-limit.
func TestGuestRedialAfterDrop(t *testing.T) {
	p := newGuestPKI(t)
	ports := map[string]string{"hook": echoTLSServer(t, p.local.TLSCertificate())}
	silent := fmt.Sprint(silentPort(t))
	const rounds = 20
	eachBackend(t, func(t *testing.T, backend string) {
		cfg := tlshost.Config{BackendName: backend, RootCAs: p.ca.Pool()}
		pr := newLimitedLineGuestRuntime(t, cfg, "./testdata/redial", nil, runtime.Limits{Sockets: 1})
		for _, mode := range []string{"verify", "finish", "draft", "hook"} {
			t.Run(mode, func(t *testing.T) {
				port, ok := ports[mode]
				if !ok {
					port = silent
				}
				g := pr.start(t, mode, "localhost", port, fmt.Sprint(rounds))
				out := g.next(t, "")
				if want := fmt.Sprintf("redialed %d", rounds); out != want {
					t.Errorf("guest: %q, want %q", out, want)
				}
				g.end(t)
			})
		}
	})
}

// silentPort is the port of silentListener.
func silentPort(t *testing.T) int {
	t.Helper()
	addr, err := net.ResolveTCPAddr("tcp", silentListener(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr.IP.String(), "127.") {
		t.Fatalf("silent listener on %v, want loopback", addr)
	}
	return addr.Port
}
