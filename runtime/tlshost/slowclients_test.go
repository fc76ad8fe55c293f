package tlshost_test

import (
	"crypto/tls"
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
// example's request timeout, and the client behind them is served.
func TestGuestServerMinimalSlowClients(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		cfg := tlshost.Config{BackendName: backend, HandshakeTimeout: time.Second}
		g := startGuestWith(t, cfg, p, "github.com/wasitls/wasitls/examples/server-minimal", nil,
			"127.0.0.1:0", "/certs/localhost.key", "/certs/localhost.pem", "3", "1s")
		addr := "127.0.0.1:" + g.port(t)
		start := time.Now()
		dial := func() net.Conn {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
		// Accepted in this order: connected in this order.
		dial() // silent: not even a ClientHello
		slowRaw, normalRaw := dial(), dial()
		tlsCfg := &tls.Config{ServerName: "localhost", RootCAs: p.ca.Pool()}
		go func() {
			slow := tls.Client(slowRaw, tlsCfg)
			slow.SetDeadline(time.Now().Add(20 * time.Second))
			slow.Handshake() // and then nothing
		}()
		normal := tls.Client(normalRaw, tlsCfg)
		normal.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(normal, "GET /normal HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatalf("normal client: %v\n%s", err, g.out.String())
		}
		resp, err := io.ReadAll(normal)
		if err != nil || !strings.Contains(string(resp), "hello from a wasi:tls server") {
			t.Fatalf("normal client: %q, %v\n%s", resp, err, g.out.String())
		}
		// One handshake timeout and one request timeout, then at once
		// (with room for a loaded machine).
		if took := time.Since(start); took > 6*time.Second {
			t.Errorf("the client behind a silent and a slow one was served after %v", took)
		}
		out := g.waitExit(t, 5*time.Second)
		mustContain(t, out, "listening on 127.0.0.1:", "tls handshake failed", "did not complete within 1s",
			"no request within 1s", `request: "GET /normal HTTP/1.1"`)
	})
}
