package tlshost_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/guestbuild"
	"github.com/wasitls/wasitls/internal/syncbuf"
	"github.com/wasitls/wasitls/internal/testpki"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestHostileRSAKey: a peer whose certificate, issued by the trusted
// CA, holds a 16384-bit RSA key with no private key behind it
// (testpki.HugeRSAKey) is refused on both backends before anything is
// verified with the key, as a guest client's server and as a guest
// server's client, with an error naming the key size. The victim would
// otherwise pay for verifying the peer's garbage signature, a cost the
// peer picks (the square of the key size: seconds for a 262144-bit key)
// on a goroutine the handshake timeout does not stop. crypto/tls refused
// such keys already; circl-pq verified them.
func TestGuestHostileRSAKey(t *testing.T) {
	p := newGuestPKI(t)
	guestbuild.MustBuild(t, giveUpGuest)
	key, err := testpki.HugeRSAKey(16384)
	if err != nil {
		t.Fatal(err)
	}
	serverLeaf, err := p.ca.Issue(testpki.LeafOptions{PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	clientLeaf, err := p.ca.Issue(testpki.LeafOptions{CommonName: "huge client", Usage: testpki.ClientAuth, PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	const reason = "RSA key larger than 8192 bits"
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("guest-client", func(t *testing.T) {
			addr := hostileServer(t, func(raw net.Conn) {
				tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{serverLeaf.TLSCertificate()}}).Handshake()
			})
			g := startGuestWith(t, tlshost.Config{BackendName: backend}, p, giveUpGuest, nil, "client", addr, "60s")
			m := g.waitOutput(t, 20*time.Second, `dial: (.*) after (\S+)\n`)
			t.Logf("dial: %s after %s", m[1], m[2])
			if !strings.Contains(m[1], reason) {
				t.Errorf("dial: %s; want an error naming the RSA key size", m[1])
			}
		})
		t.Run("guest-server", func(t *testing.T) {
			var logs syncbuf.Buffer
			cfg := tlshost.Config{BackendName: backend, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			g := startGuestWith(t, cfg, p, "github.com/wasitls/wasitls/examples/server-showcase", nil,
				"0", "/certs/example.key", "/certs/example.pem", "/certs/localhost.key", "/certs/localhost.pem", "1")
			port := g.port(t)
			raw, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(20 * time.Second))
			cert := clientLeaf.TLSCertificate()
			tc := tls.Client(raw, &tls.Config{ServerName: "example.com", RootCAs: p.ca.Pool(),
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }})
			err = tc.Handshake()
			if err == nil {
				_, err = tc.Read(make([]byte, 1))
			}
			t.Logf("client: %v", err)
			if err == nil || !strings.Contains(err.Error(), "remote error: tls: bad certificate") {
				t.Errorf("the client's certificate was not refused with bad_certificate: %v", err)
			}
			g.waitOutput(t, 10*time.Second, `connection failed: the handshake failed before the client certificate\n`)
			if !strings.Contains(logs.String(), reason) {
				t.Errorf("the host's log does not name the RSA key size:\n%s", logs.String())
			}
		})
	})
}
