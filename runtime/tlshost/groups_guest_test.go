package tlshost_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/tlshost"
)

// nodeX25519FirstClient is Node 24 (OpenSSL 3.5) supporting X25519 and
// X25519MLKEM768 but sharing X25519 only (OpenSSL shares the first group
// of the list). It prints the group it negotiated and whether the
// guest's answer arrived.
const nodeX25519FirstClient = `
const tls = require('tls');
const s = tls.connect({
  host: '127.0.0.1', port: +process.env.PORT, servername: 'localhost',
  ca: process.env.CA, ecdhCurve: 'X25519:X25519MLKEM768',
}, () => {
  console.log('group ' + s.getEphemeralKeyInfo().name);
  s.write('GET /node HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
});
let body = '';
s.on('data', (d) => { body += d; });
s.on('close', () => console.log(body.includes('hello from a wasi:tls server') ? 'body ok' : 'body ' + JSON.stringify(body)));
s.on('error', (e) => { console.error(e.message); process.exit(3); });
`

// TestGuestServerNoPQDowngrade serves that client from a guest server on
// each backend's default groups. The client's only share is X25519, so
// X25519MLKEM768 can only come from a HelloRetryRequest: a server that
// took the X25519 share would negotiate X25519 (RFC 8446, Section 4.1.1).
func TestGuestServerNoPQDowngrade(t *testing.T) {
	p := newGuestPKI(t)
	node := tlshost.NodePeer(t)
	eachBackend(t, func(t *testing.T, backend string) {
		g := startGuest(t, backend, p, "github.com/wasitls/wasitls/examples/server-minimal", nil,
			"0", "/certs/localhost.key", "/certs/localhost.pem", "1")
		port := g.port(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "-e", nodeX25519FirstClient)
		cmd.Env = append(cmd.Environ(), "PORT="+port, "CA="+string(p.ca.CertPEM()))
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, got)
		}
		mustContain(t, string(got), "group X25519MLKEM768\n", "body ok")
		out, err := g.wait(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustContain(t, out, `request: "GET /node HTTP/1.1"`)
	})
}
