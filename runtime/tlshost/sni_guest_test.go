package tlshost_test

import (
	"crypto/tls"
	"net"
	"strconv"
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
		dial := func(name string) error { return sniHandshake(p, port, name) }
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

// TestGuestServerLongSNI: a client naming a server (SNI) that is no host
// name, longer than 255 bytes (the extension holds 65,535) or holding a
// NUL byte, has its handshake refused with an alert on both backends, as
// BoringSSL and OpenSSL refuse it; a name of 255 bytes is served, and so
// is the next client. Before, the host took such names, kept them for the
// connection's life whether the guest asked or not (an idle connection
// whose client named 60,000 bytes held 83 to 185 KiB of the host's heap,
// 15 to 25 KiB otherwise) and handed them to the guest whole.
func TestGuestServerLongSNI(t *testing.T) {
	p := newGuestPKI(t)
	longest := strings.Repeat("a.", 127) + "b" // 255 bytes
	refused := map[string]string{
		"60,000 bytes": strings.Repeat("a.", 30000),
		"256 bytes":    "a" + longest,
		"a NUL byte":   "a\x00.example.com",
	}
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/server-showcase", nil,
			"0", "/certs/example.key", "/certs/example.pem", "/certs/localhost.key", "/certs/localhost.pem", strconv.Itoa(len(refused)+2))
		port := g.port(t)
		dial := func(name string) error { return sniHandshake(p, port, name) }
		failed := 0
		for what, name := range refused {
			err := dial(name)
			if err == nil || !strings.Contains(err.Error(), "remote error") {
				t.Errorf("a server name of %s was not refused with an alert: %v", what, err)
			}
			failed++
			g.waitCount(t, 10*time.Second, "connection failed: no ClientHello", failed)
		}
		if err := dial(longest); err != nil {
			t.Errorf("a server name of 255 bytes: %v", err)
		}
		if err := dial("example.com"); err != nil {
			t.Fatalf("the next client: %v; guest output:\n%s", err, g.out.String())
		}
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("guest: %v; output:\n%s", err, out)
		}
		if n := strings.Count(out, "connection failed: no ClientHello"); n != len(refused) {
			t.Errorf("%d handshakes failed at the ClientHello, want %d:\n%.4000s", n, len(refused), out)
		}
		mustContain(t, out, "client hello: server-name "+longest+",", "client hello: server-name example.com,")
		if strings.Contains(out, strings.Repeat("a.", 128)) {
			t.Errorf("the guest was handed a name longer than 255 bytes:\n%.2000s", out)
		}
	})
}

// sniHandshake runs a crypto/tls client naming name (SNI) against the
// server-showcase guest listening on port; it verifies the server only
// for example.com.
func sniHandshake(p *guestPKI, port, name string) error {
	raw, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(20 * time.Second))
	tc := tls.Client(raw, &tls.Config{ServerName: name, RootCAs: p.ca.Pool(), InsecureSkipVerify: name != "example.com"})
	return tc.Handshake()
}
