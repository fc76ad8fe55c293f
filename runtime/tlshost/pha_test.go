package tlshost_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	circlpq "github.com/wasitls/wasitls/backends/circl-pq"
)

// TestGuestServerPostHandshakeAuth is the design text's "GET /secure": a
// client that presented no certificate in the handshake asks for /secure,
// and the guest server (examples/server-showcase) requests one after the
// handshake (RFC 8446, Section 4.6.2). The client is the circl-pq engine,
// which offers post-handshake authentication and answers with its
// certificate only then. Over circl-pq the guest sees the client's
// identity; over stdtls the guest is told that crypto/tls cannot do it.
func TestGuestServerPostHandshakeAuth(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/server-showcase", nil,
			"0", "/certs/example.key", "/certs/example.pem", "/certs/localhost.key", "/certs/localhost.pem", "1")
		raw, err := net.Dial("tcp", "127.0.0.1:"+g.port(t))
		if err != nil {
			t.Fatal(err)
		}
		var inHandshake, postHandshake atomic.Int32
		conn, err := circlpq.Backend{}.Client(raw, &backends.ClientConfig{
			ServerName: "localhost",
			RootCAs:    p.ca.Pool(),
			ClientIdentity: func(_ context.Context, req *backends.IdentityRequest) ([]*backends.Identity, error) {
				if !req.PostHandshake {
					inHandshake.Add(1)
					return nil, nil
				}
				postHandshake.Add(1)
				return []*backends.Identity{p.client.Identity()}, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := conn.Handshake(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, "GET /secure HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		// Reading processes the server's CertificateRequest on the way.
		resp, err := io.ReadAll(conn)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, resp)
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, `request: "GET /secure HTTP/1.1"`, "client certificate: none")
		switch backend {
		case "circl-pq":
			want := `post-handshake authentication: client "guest client"`
			mustContain(t, out, want)
			mustContain(t, string(resp), "HTTP/1.1 200 OK", want)
			if inHandshake.Load() != 1 || postHandshake.Load() != 1 {
				t.Errorf("client identity requests: %d in the handshake, %d after it; want 1 and 1", inHandshake.Load(), postHandshake.Load())
			}
		case "stdtls":
			mustContain(t, out, "post-handshake authentication: failed: ", "not implemented by crypto/tls")
			// The reason names the backend once (it read "tlshost: stdtls
			// backend: stdtls: ...").
			_, reason, _ := strings.Cut(out, "post-handshake authentication: failed: ")
			reason, _, _ = strings.Cut(reason, "\n")
			if strings.Count(reason, "stdtls") != 1 {
				t.Errorf("the guest's reason names stdtls %d times, want once: %q", strings.Count(reason, "stdtls"), reason)
			}
			if postHandshake.Load() != 0 {
				t.Error("stdtls sent a post-handshake certificate request")
			}
		default:
			if !strings.Contains(out, "post-handshake authentication:") {
				t.Errorf("no post-handshake outcome reported:\n%s", out)
			}
		}
	})
}
