package tlshost_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/internal/testnet"
)

// TestGuestHostileTicket: a server whose session tickets are 65,000 bytes
// long (RFC 8446 allows 65,535; crypto/tls's WrapSession makes them),
// which a guest client connects to twice, through the host's session
// cache. The second connection's ClientHello cannot hold the ticket: on
// circl-pq it is not offered and the connection completes without
// resumption; on stdtls crypto/tls fails that handshake with an error.
// Either way the guest carries on. Before, circl-pq panicked encoding the
// ClientHello: here, where the handshake runs on the guest's call, the
// guest trapped with "host panic"; a handshake the host runs on a
// goroutine of its own crashed the process, every guest with it.
func TestGuestHostileTicket(t *testing.T) {
	p := newGuestPKI(t)
	eachBackend(t, func(t *testing.T, backend string) {
		cfg := &tls.Config{
			Certificates: []tls.Certificate{p.local.TLSCertificate()},
			WrapSession: func(tls.ConnectionState, *tls.SessionState) ([]byte, error) {
				return bytes.Repeat([]byte{7}, 65000), nil
			},
		}
		addr := testnet.Serve(t, func(c net.Conn) {
			tc := tls.Server(c, cfg)
			defer tc.Close()
			tc.SetDeadline(time.Now().Add(20 * time.Second))
			if tc.Handshake() == nil {
				line, _ := bufio.NewReader(tc).ReadString('\n')
				io.WriteString(tc, "hello "+line)
			}
		})
		out, err := startGuest(t, backend, p, resumeGuest, nil, "client", addr.String(), "2").wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, "conn 0: resumed=false", "conn 0: read hello ping\n")
		if backend == "circl-pq" {
			mustContain(t, out, "conn 1: resumed=false", "conn 1: read hello ping\n")
		} else if !strings.Contains(out, "conn 1: handshake failed") && !strings.Contains(out, "conn 1: read hello ping\n") {
			t.Errorf("conn 1 neither failed nor completed:\n%s", out)
		}
	})
}
