package tlshost_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/internal/capreport/capreporttest"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/runtime"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// The tests of this file: the TLS connections a guest holds are bounded
// by Config.Connections, whatever streams they were made over. Before,
// only the handle limit bounded the connections over streams that cannot
// carry TLS (handles on standard input and output, which a guest gets as
// many of as it asks) and those whose handshake failed (their socket is
// given back once the host closes the transport): 262,144 of them, 1.7
// to 4.2 KiB each.

// connectionTrap waits for the guest g to end and fails the test unless
// it ended with the limit's trap, of n connections, in the constructor
// fn.
func connectionTrap(t *testing.T, g *peerChains, fn string, n int) {
	t.Helper()
	// A guest the limit did not stop says so, and is ended.
	for g.lines.Scan() {
		if line := g.lines.Text(); strings.HasPrefix(line, "held ") {
			t.Errorf("guest: %s, want a trap at connection %d", line, n+1)
			g.stdin.Close()
			break
		}
	}
	go func() {
		for g.lines.Scan() {
		}
	}()
	err := <-g.done
	g.done <- nil
	var trap *cabi.Trap
	if !errors.As(err, &trap) {
		t.Fatalf("guest ended with %v, want a trap", err)
	}
	want := fmt.Sprintf("the guest holds %d TLS connections, the most allowed (tlshost.Config.Connections, wasitls run --max-tls-connections)", n)
	if trap.Func != fn || !strings.Contains(trap.Msg, want) {
		t.Errorf("trap %v, want one of %s saying %q", trap, fn, want)
	}
}

// TestGuestConnectionLimit: a guest making client-connections,
// server-connections, the draft's client-handshakes, or the three in
// turn, over handles on its standard input and output, holds
// Config.Connections (64) of them; another guest of the same host makes
// as many beside it, and its next constructor traps naming the limit and
// the flag, which logs one record (capreport). Once the first drops its
// connections it makes 64 again. Before, each guest held as many as its
// handles allowed.
func TestGuestConnectionLimit(t *testing.T) {
	const limit = 64
	ctors := map[string]string{
		"client": "wasi:tls/tls#[constructor]client-connection",
		"server": "wasi:tls/tls#[constructor]server-connection",
		"draft":  "wasi:tls/types#[constructor]client-handshake",
		"mixed":  "wasi:tls/tls#[constructor]server-connection", // the 65th is a server
	}
	eachBackend(t, func(t *testing.T, backend string) {
		for _, kind := range []string{"client", "server", "draft", "mixed"} {
			t.Run(kind, func(t *testing.T) {
				log, rec := capreporttest.New()
				pr := newLimitedLineGuestRuntime(t, tlshost.Config{BackendName: backend, Connections: limit}, "./testdata/connhog", log, runtime.Limits{})
				g := pr.start(t, kind, fmt.Sprint(limit))
				g.next(t, "ready")
				out, grew := g.goMeasured(t, "held ")
				t.Logf("%s; host heap grew by %d KiB, %d bytes a connection", out, grew>>10, grew/limit)
				if out != fmt.Sprintf("held %d", limit) {
					t.Fatalf("guest under the limit: %q", out)
				}
				if err := rec.Check("--max-tls-connections", limit, 0); err != nil {
					t.Errorf("a guest at the limit: %v", err)
				}

				other := pr.start(t, kind, fmt.Sprint(limit+1))
				other.next(t, "ready")
				other.tell("go")
				connectionTrap(t, other, ctors[kind], limit)
				if err := rec.Check("--max-tls-connections", limit, 1); err != nil {
					t.Error(err)
				}

				g.tell("drop")
				g.next(t, "dropped")
				g.tell("again")
				if out := g.next(t, "held "); out != fmt.Sprintf("held %d", limit) {
					t.Errorf("after dropping its connections, the guest got %q", out)
				}
				g.end(t)
			})
		}
	})
}

// TestGuestFailedConnectionsCount: a guest whose client handshakes fail
// (its peer, on loopback, closes each connection at once), and that drops
// each socket and keeps each connection, holds Config.Connections (32)
// of them under Limits.Sockets 8, and its next constructor traps naming
// the limit. Before, the sockets it dropped no longer counted, and it
// held as many failed connections, 4 KiB each, as its handles allowed.
func TestGuestFailedConnectionsCount(t *testing.T) {
	const limit = 32
	addr := testnet.Serve(t, func(c net.Conn) { c.Close() })
	port := fmt.Sprint(addr.Port)
	eachBackend(t, func(t *testing.T, backend string) {
		pr := newLimitedLineGuestRuntime(t, tlshost.Config{BackendName: backend, Connections: limit}, "./testdata/connhog", nil, runtime.Limits{Sockets: 8})
		g := pr.start(t, "failed", fmt.Sprint(limit), port)
		g.next(t, "ready")
		out, grew := g.goMeasured(t, "held ")
		t.Logf("%s; host heap grew by %d KiB, %d bytes a connection", out, grew>>10, grew/limit)
		if out != fmt.Sprintf("held %d", limit) {
			t.Fatalf("guest under the limit: %q", out)
		}
		g.end(t)

		over := pr.start(t, "failed", fmt.Sprint(limit+1), port)
		over.next(t, "ready")
		over.tell("go")
		connectionTrap(t, over, "wasi:tls/tls#[constructor]client-connection", limit)
	})
}

// TestGuestConnectionsBounded: at the default limit, a guest holding the
// most connections it may, each the costliest kind (a client-connection
// whose handshake failed, its socket dropped: some 4.2 KiB; one over
// handles on standard input and output takes 1.7 to 2.1 KiB), makes the
// host's heap grow by under 32 MiB, 8 KiB a connection; before, at its
// handle limit, some 1.1 GiB. The next connection traps.
func TestGuestConnectionsBounded(t *testing.T) {
	addr := testnet.Serve(t, func(c net.Conn) { c.Close() })
	pr := newLineGuestRuntime(t, tlshost.Config{BackendName: "stdtls"}, "./testdata/connhog")
	g := pr.start(t, "failed", fmt.Sprint(tlshost.DefaultConnections), fmt.Sprint(addr.Port))
	g.next(t, "ready")
	out, grew := g.goMeasured(t, "held ")
	t.Logf("%s; host heap grew by %d KiB, %d bytes a connection", out, grew>>10, grew/tlshost.DefaultConnections)
	if out != fmt.Sprintf("held %d", tlshost.DefaultConnections) {
		t.Fatalf("guest at the default limit: %q", out)
	}
	if bound := int64(tlshost.DefaultConnections) * 8 << 10; grew > bound {
		t.Errorf("the host's heap grew by %d KiB for %d connections, want under %d KiB", grew>>10, tlshost.DefaultConnections, bound>>10)
	}
	g.end(t)

	over := pr.start(t, "client", fmt.Sprint(tlshost.DefaultConnections+1))
	over.next(t, "ready")
	over.tell("go")
	connectionTrap(t, over, "wasi:tls/tls#[constructor]client-connection", tlshost.DefaultConnections)
}
