package tlshost_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// TestGuestServerInvalidSNI: a client whose ClientHello names a server
// that is not UTF-8 (SNI is bytes on the wire; a WIT string, which
// server-name returns, is UTF-8) has its handshake refused, with an
// alert, on both backends; the guest server, which asks for the name,
// carries on and serves the next client. Before, the host handed the
// guest the client's bytes and the string's lowering trapped: any
// client could stop a guest server with one ClientHello.
func TestGuestServerInvalidSNI(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/server-showcase", nil,
			"0", "/certs/example.key", "/certs/example.pem", "/certs/localhost.key", "/certs/localhost.pem", "2")
		port := g.port(t)
		dial := func(name string) error {
			raw, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err != nil {
				return err
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(20 * time.Second))
			tc := tls.Client(raw, &tls.Config{ServerName: name, RootCAs: p.ca.Pool(), InsecureSkipVerify: name != "example.com"})
			return tc.Handshake()
		}
		err := dial("bad\xff\xfe.example.com")
		t.Logf("client naming bad\\xff\\xfe.example.com: %v", err)
		if err == nil || !strings.Contains(err.Error(), "remote error") {
			t.Errorf("a server name that is not UTF-8 was not refused with an alert: %v", err)
		}
		if _, err := g.outputWithin(10*time.Second, `connection failed: .*\n`); err != nil {
			select {
			case gerr := <-g.done:
				g.done <- gerr
				t.Fatalf("the guest ended: %v", gerr)
			default:
				t.Fatal(err)
			}
		}
		if err := dial("example.com"); err != nil {
			t.Fatalf("the next client: %v; guest output:\n%s", err, g.out.String())
		}
		g.waitOutput(t, 10*time.Second, `client hello: server-name example\.com,`)
		if out, err := g.wait(t); err != nil || strings.Contains(out, "invalid UTF-8") {
			t.Errorf("guest: %v; output:\n%s", err, out)
		}
	})
}
