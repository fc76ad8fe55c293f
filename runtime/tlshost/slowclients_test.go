package tlshost_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestServerMinimalSlowClients: examples/server-minimal serves one
// connection at a time, as the design text's loop does. A client that
// never sends its ClientHello is let go by the host's handshake timeout,
// one that completes the handshake and never sends its request by the
// example's request timeout, each no sooner than its timeout, and the
// client behind them is served. The normal clients' handshakes must beat
// the handshake timeout: on a loaded machine the test tries longer ones
// (timeSensitive).
func TestGuestServerMinimalSlowClients(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		timeSensitive(t, timeoutLadder, func(t *testing.T, timeout time.Duration) error {
			return serverMinimalSlowClients(t, p, backend, timeout)
		})
	})
}

// serverMinimalSlowClients is TestGuestServerMinimalSlowClients with
// timeout as both the host's handshake timeout and the example's request
// timeout.
func serverMinimalSlowClients(t *testing.T, p *guestPKI, backend string, timeout time.Duration) error {
	cfg := tlshost.Config{BackendName: backend, HandshakeTimeout: timeout}
	g := startGuestWith(t, cfg, p, "github.com/wasitls/wasitls/examples/server-minimal", nil,
		"127.0.0.1:0", "/certs/localhost.key", "/certs/localhost.pem", "3", timeout.String())
	addr := "127.0.0.1:" + g.port(t)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Accepted in this order: connected in this order.
	start := time.Now()
	silentEnded := endsAt(dial()) // silent: not even a ClientHello
	slowRaw, normalRaw := dial(), dial()
	tlsCfg := &tls.Config{ServerName: "localhost", RootCAs: p.ca.Pool()}
	type handshook struct {
		at    time.Time
		err   error
		ended <-chan time.Time
	}
	slowDone := make(chan handshook, 1)
	go func() {
		var verified time.Time
		slow := tls.Client(slowRaw, verifiedAt(tlsCfg, &verified))
		slow.SetDeadline(time.Now().Add(3*timeout + 20*time.Second))
		err := slow.Handshake() // and then nothing
		slowDone <- handshook{verified, err, endsAt(slow)}
	}()
	// The silent client waits out the handshake timeout, the slow one the
	// request timeout after it; with room for a loaded machine.
	bound := 2*timeout + 10*time.Second
	normal := tls.Client(normalRaw, tlsCfg)
	normal.SetDeadline(time.Now().Add(bound))
	if _, err := io.WriteString(normal, "GET /normal HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		return fmt.Errorf("normal client: %v\n%s", err, g.out.String())
	}
	resp, err := io.ReadAll(normal)
	if err != nil || !strings.Contains(string(resp), "hello from a wasi:tls server") {
		return fmt.Errorf("normal client: %q, %v\n%s", resp, err, g.out.String())
	}
	out, err := g.exitWithin(bound)
	if err != nil {
		return err
	}
	// A normal handshake that missed the timeout (on a loaded machine)
	// fails too, and then the bounds below prove nothing.
	if n := strings.Count(out, "tls handshake failed"); n != 1 {
		return fmt.Errorf("%d handshakes failed, want the silent client's alone:\n%s", n, out)
	}
	// Each was let go no sooner than its timeout.
	silentEnd, err := endedWithin(silentEnded, bound)
	if err != nil {
		return fmt.Errorf("silent client: %v", err)
	}
	if took := silentEnd.Sub(start); took < timeout {
		t.Fatalf("the silent client was let go after %v, before the handshake timeout of %v", took, timeout)
	}
	slow := <-slowDone
	if slow.err != nil {
		return fmt.Errorf("slow client's handshake: %v\n%s", slow.err, out)
	}
	slowEnd, err := endedWithin(slow.ended, bound)
	if err != nil {
		return fmt.Errorf("slow client: %v", err)
	}
	if took := slowEnd.Sub(slow.at); took < timeout {
		t.Fatalf("the slow client was let go %v after it verified the server, before the request timeout of %v", took, timeout)
	}
	mustContain(t, out, "listening on 127.0.0.1:", "tls handshake failed", "did not complete within "+timeout.String(),
		"no request within "+timeout.String(), `request: "GET /normal HTTP/1.1"`)
	return nil
}
