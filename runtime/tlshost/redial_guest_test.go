package tlshost_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
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
// The guest drops each handshake once the peer has its ClientHello: a
// handshake dropped while the host still writes it keeps its socket
// until the write returned.
func TestGuestRedialAfterDrop(t *testing.T) {
	p := newGuestPKI(t)
	echo := echoTLSServer(t, p.local.TLSCertificate())
	hellos := make(chan struct{}, 1)
	silent := fmt.Sprint(testnet.Serve(t, func(c net.Conn) { readSilently(c, hellos) }).Port)
	const rounds = 20
	eachBackend(t, func(t *testing.T, backend string) {
		cfg := tlshost.Config{BackendName: backend, RootCAs: p.ca.Pool()}
		pr := newLimitedLineGuestRuntime(t, cfg, "./testdata/redial", nil, runtime.Limits{Sockets: 1})
		for _, mode := range []string{"verify", "finish", "draft", "hook"} {
			t.Run(mode, func(t *testing.T) {
				port, await := silent, (<-chan struct{})(hellos)
				if mode == "hook" {
					port, await = echo, nil
				}
				g := pr.start(t, mode, "localhost", port, fmt.Sprint(rounds))
				for i := range rounds {
					dropRound(t, g, i, await)
				}
				if out, want := g.next(t, ""), fmt.Sprintf("redialed %d", rounds); out != want {
					t.Errorf("guest: %q, want %q", out, want)
				}
				g.end(t)
			})
		}
	})
}

// TestGuestTunnelRedialAfterDrop: TestGuestRedialAfterDrop for a client
// handshake tunnelled through another TLS connection's cleartext, stalled
// on a peer that reads its ClientHello and answers nothing: under a
// socket limit of 2 (the socket, and the tunnelled connection, which
// counts as one), a guest dropping the inner connection, then the outer
// and its socket, dials and tunnels again at once, every time, on every
// backend, whether the inner handshake ran on a goroutine of the host,
// paused on the guest's wait or is the draft's. The guest reports how
// long each drop of the inner connection took (logged: a few
// milliseconds at most on a quiet machine, nowhere near closeGrace).
func TestGuestTunnelRedialAfterDrop(t *testing.T) {
	p := newGuestPKI(t)
	hellos := make(chan struct{}, 1)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.local.TLSCertificate()}}
	port := fmt.Sprint(testnet.Serve(t, func(c net.Conn) {
		defer c.Close()
		s := tls.Server(c, cfg)
		if s.Handshake() != nil {
			return
		}
		readSilently(s, hellos)
	}).Port)
	const rounds = 10
	eachBackend(t, func(t *testing.T, backend string) {
		pr := newLimitedLineGuestRuntime(t, tlshost.Config{BackendName: backend, RootCAs: p.ca.Pool()}, "./testdata/redial", nil, runtime.Limits{Sockets: 2})
		for _, mode := range []string{"tunnel", "tunnel-finish", "tunnel-draft"} {
			g := pr.start(t, mode, "localhost", port, fmt.Sprint(rounds))
			for i := range rounds {
				dropRound(t, g, i, hellos)
				t.Log(mode, g.next(t, "dropped in"))
			}
			if out, want := g.next(t, ""), fmt.Sprintf("redialed %d", rounds); out != want {
				t.Errorf("guest: %q, want %q", out, want)
			}
			g.end(t)
		}
	})
}

// readSilently is a silent peer: it reads what c sends and answers
// nothing, telling hellos once the first byte (a ClientHello's) came.
func readSilently(c io.Reader, hellos chan<- struct{}) {
	if _, err := c.Read(make([]byte, 1)); err == nil {
		hellos <- struct{}{}
	}
	io.Copy(io.Discard, c)
}

// dropRound waits for the redial guest to start round i and, when hellos
// is set, for its ClientHello to reach the silent peer, then tells it to
// drop the connection.
func dropRound(t *testing.T, g *peerChains, i int, hellos <-chan struct{}) {
	t.Helper()
	if line := g.next(t, ""); line != fmt.Sprintf("started %d", i) {
		t.Fatalf("guest: %q, want %q", line, fmt.Sprintf("started %d", i))
	}
	if hellos != nil {
		select {
		case <-hellos:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no ClientHello reached the silent peer", i)
		}
	}
	g.tell("go")
}
