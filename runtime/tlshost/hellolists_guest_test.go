package tlshost_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// TestGuestServerHelloListsNotKept: a guest server that keeps its
// connections and never asks for the ClientHello (receive-client-hello),
// whose clients each offered 20,000 one-byte ALPN protocols (40 KB of
// ClientHello), makes the host hold at most 4 times the ClientHello
// more per connection than for clients offering one protocol (crypto/tls
// keeps its handshake buffers). Before, the host kept two copies of the
// hello's lists for each connection's life: 650-730 KiB more per
// connection, 16 times the ClientHello (both backends).
func TestGuestServerHelloListsNotKept(t *testing.T) {
	const n = 16
	p := newGuestPKI(t)
	many := make([]string, 20000)
	for i := range many {
		many[i] = string(rune('a' + i%26))
	}
	const helloBytes = 20000 * 2
	eachBackend(t, func(t *testing.T, backend string) {
		id := backendIdentity(t, backend, p.local)
		grew := map[int]int64{}
		for _, protos := range [][]string{{"h2"}, many} {
			cfg := tlshost.Config{BackendName: backend, Identities: map[string]*backends.Identity{"local": id}}
			g := startPeerChains(t, cfg, "serve", "local", fmt.Sprint(n))
			addr := strings.TrimPrefix(g.next(t, "listening on "), "listening on ")
			before := heapAfterGC()
			var clients []*tls.Conn
			for range n {
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				raw.SetDeadline(time.Now().Add(20 * time.Second))
				c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: protos})
				if err := c.Handshake(); err != nil {
					t.Fatal(err)
				}
				clients = append(clients, c)
			}
			out := g.next(t, "served ")
			after := heapAfterGC()
			grew[len(protos)] = int64(after) - int64(before)
			t.Logf("%d ALPN protocols: %s; host heap grew by %d KiB", len(protos), out, grew[len(protos)]>>10)
			if !strings.HasPrefix(out, fmt.Sprintf("served %d, failed 0", n)) {
				t.Errorf("%s: want every handshake served", out)
			}
			for _, c := range clients {
				c.Close()
			}
			g.end(t)
		}
		if more := (grew[len(many)] - grew[1]) / n; more > 4*helloBytes {
			t.Errorf("the host holds %d KiB more per connection whose client offered %d ALPN protocols (a ClientHello of %d KiB), want at most %d KiB", more>>10, len(many), helloBytes>>10, 4*helloBytes>>10)
		}
	})
}

// TestGuestClientRequestListsNotKept: a guest client that keeps its
// connections and never asks for the server's certificate request
// (receive-client-identity-request), to a server whose request names
// 15,000 CAs of an empty name (60 KB), makes the host hold at most 4
// times the request more per connection than for a server naming one.
// Before, the host kept a copy of the request for each connection's
// life: 470-570 KiB more per connection, 8 to 10 times the request
// (both backends).
func TestGuestClientRequestListsNotKept(t *testing.T) {
	const n, cas = 16, 15000
	cert := bigCertificate(t, 1)
	roots := pool(t, cert)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	many := x509.NewCertPool()
	for i := range cas {
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1))}, &x509.Certificate{}, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		many.AddCert(c)
	}
	const requestBytes = cas * 4
	eachBackend(t, func(t *testing.T, backend string) {
		grew := map[bool]int64{}
		for _, big := range []bool{false, true} {
			clientCAs := roots
			if big {
				clientCAs = many
			}
			port := requestServer(t, cert, clientCAs)
			g := startPeerChains(t, tlshost.Config{BackendName: backend, RootCAs: roots}, "fill", "localhost", port, fmt.Sprint(n))
			g.next(t, "ready")
			out, grown := g.goMeasured(t, "kept ")
			grew[big] = grown
			t.Logf("a request naming %d CAs: %s; host heap grew by %d KiB", len(clientCAs.Subjects()), out, grew[big]>>10)
			if !strings.HasPrefix(out, fmt.Sprintf("kept %d, failed 0", n)) {
				t.Errorf("%s: want every handshake kept", out)
			}
			g.end(t)
		}
		if more := (grew[true] - grew[false]) / n; more > 4*requestBytes {
			t.Errorf("the host holds %d KiB more per connection whose server named %d CAs (a request of %d KiB), want at most %d KiB", more>>10, cas, requestBytes>>10, 4*requestBytes>>10)
		}
	})
}

// requestServer serves TLS with cert on a loopback listener until the
// test ends, asking each client for a certificate naming the subjects of
// clientCAs, and accepting none.
func requestServer(t *testing.T, cert tls.Certificate, clientCAs *x509.CertPool) (port string) {
	t.Helper()
	return serveTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, ClientCAs: clientCAs})
}
