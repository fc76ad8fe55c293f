package tlshost_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/runtime/tlshost"
)

// uriCertificate is a certificate naming uris one-letter URIs ("a:"),
// with a serial of its own: some 4 bytes of DER each, which crypto/x509
// parses into a url.URL of some 150 bytes.
func uriCertificate(t *testing.T, serial int64, uris int) []byte {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial)}
	for range uris {
		tmpl.URIs = append(tmpl.URIs, &url.URL{Scheme: "a"})
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestGuestPeerParsedChainCounts: what the backend keeps parsed of a
// peer's chain counts against Config.PeerCertBytes, not only the bytes
// the peer sent. A server whose trusted chain carries, after its leaf, a
// certificate naming 2,000 one-letter URIs (8 KiB of DER, a new one each
// time so that crypto/tls's cache of server certificates shares none)
// makes each stdtls connection keep some 330 KiB parsed: a guest under
// 1 MiB keeps at most 3 of 24, the rest fail naming the limit, and the
// host's heap grows within 3 times the limit. Before, each counted the
// 9 KiB its handshake read: all 24 completed, 8 MiB held under the 1 MiB
// limit (and 256 KiB Certificate messages of such certificates held some
// 10 MiB a connection, 2.5 GiB under the 64 MiB default). circl-pq parses
// a chain only to verify it and keeps none: all its connections fit.
func TestGuestPeerParsedChainCounts(t *testing.T) {
	const limit, n, uris = 1 << 20, 24, 2000
	leaf := bigCertificate(t, 0)
	junk := make([][]byte, 2*(n+2)) // every connection of both backends
	for i := range junk {
		junk[i] = uriCertificate(t, int64(i+1), uris)
	}
	var served atomic.Int64
	port := serveTLS(t, &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		i := served.Add(1) - 1
		if i >= int64(len(junk)) {
			return nil, fmt.Errorf("more than the %d connections the test expects", len(junk))
		}
		return &tls.Certificate{Certificate: [][]byte{leaf.Certificate[0], junk[i]}, PrivateKey: leaf.PrivateKey}, nil
	}})
	roots := pool(t, leaf)
	eachBackend(t, func(t *testing.T, backend string) {
		g, out, kept, failed := fillKept(t, tlshost.Config{BackendName: backend, RootCAs: roots, PeerCertBytes: limit}, port, n)
		if backend == "circl-pq" {
			if kept != n {
				t.Errorf("%s: want all %d kept (circl-pq keeps no parsed chain)", out, n)
			}
		} else {
			if kept < 1 || kept > 3 || failed != n-kept {
				t.Errorf("%s: want 1 to 3 handshakes kept and the others failed", out)
			}
			mustContain(t, out, fmt.Sprintf("more than the %d allowed (tlshost.Config.PeerCertBytes, wasitls run --max-peer-cert-bytes)", limit))
		}
		g.dropOneAgain(t)
	})
}

// TestGuestServerPeerParsedChainCounts: a guest server's clients' parsed
// chains count as a server's do (TestGuestPeerParsedChainCounts): 12
// clients each sending a trusted leaf and a certificate of 2,000 URIs
// get at most 3 handshakes served under 1 MiB with stdtls, the others
// failing naming the limit; before, all 12 were served.
func TestGuestServerPeerParsedChainCounts(t *testing.T) {
	const limit, n, uris = 1 << 20, 12, 2000
	p := newGuestPKI(t)
	leaf := bigCertificate(t, 0)
	clientCAs := pool(t, leaf)
	id := backendIdentity(t, "stdtls", p.local)
	cfg := tlshost.Config{BackendName: "stdtls", ClientCAs: clientCAs, PeerCertBytes: limit,
		Identities: map[string]*backends.Identity{"local": id}}
	g := startPeerChains(t, cfg, "serve", "local", fmt.Sprint(n))
	addr := strings.TrimPrefix(g.next(t, "listening on "), "listening on ")
	var clients []*tls.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range n {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		raw.SetDeadline(time.Now().Add(20 * time.Second))
		cert := tls.Certificate{Certificate: [][]byte{leaf.Certificate[0], uriCertificate(t, int64(i+1), uris)}, PrivateKey: leaf.PrivateKey}
		c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
		c.Handshake() // the server's verdict comes after the client's
		clients = append(clients, c)
	}
	out := g.next(t, "served ")
	t.Log(out)
	var served, failed int
	fmt.Sscanf(out, "served %d, failed %d:", &served, &failed)
	if served < 1 || served > 3 || failed != n-served {
		t.Errorf("%s: want 1 to 3 handshakes served and the others failed", out)
	}
	mustContain(t, out, fmt.Sprintf("more than the %d allowed (tlshost.Config.PeerCertBytes, wasitls run --max-peer-cert-bytes)", limit))
	g.end(t)
}

// TestGuestPeerSCTsCount: the signed certificate timestamps a server
// staples to its leaf count against Config.PeerCertBytes as crypto/tls
// keeps them. A server whose trusted leaf carries 21,000 SCTs of one byte
// (63 KB of Certificate message, which crypto/tls parses into a slice of
// 21,000 slices and keeps for the connection's life, some 500 KiB) makes
// a guest under 1 MiB keep at most 2 of 24 stdtls connections, the rest
// failing naming the limit, and the host's heap grows within 3 times the
// limit, on both backends (circl-pq keeps no SCT). Before, each counted
// the 65 KB its handshake read: 15 completed, the host's heap growing by
// 10.6 MiB under the 1 MiB limit, some 700 MiB under the 64 MiB default.
func TestGuestPeerSCTsCount(t *testing.T) {
	const limit, n, scts = 1 << 20, 24, 21000
	leaf := bigCertificate(t, 0)
	leaf.SignedCertificateTimestamps = make([][]byte, scts)
	for i := range leaf.SignedCertificateTimestamps {
		leaf.SignedCertificateTimestamps[i] = []byte{byte(i)}
	}
	port := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{leaf}})
	roots := pool(t, leaf)
	eachBackend(t, func(t *testing.T, backend string) {
		g, out, kept, failed := fillKept(t, tlshost.Config{BackendName: backend, RootCAs: roots, PeerCertBytes: limit}, port, n)
		if kept < 1 || failed != n-kept {
			t.Errorf("%s: want at least one handshake kept and the others failed", out)
		}
		if backend == "stdtls" && kept > 2 {
			t.Errorf("%s: want at most 2 handshakes kept", out)
		}
		g.dropOneAgain(t)
	})
}

// fillKept has a peerchains guest under cfg, whose peer certificate bytes
// are at most cfg.PeerCertBytes, make n handshakes to port keeping those
// that complete; it returns the guest, its report, how many it kept and
// failed, and checks that the host's heap grew within 3 times the limit.
func fillKept(t *testing.T, cfg tlshost.Config, port string, n int) (g *peerChains, out string, kept, failed int) {
	t.Helper()
	g = newLineGuestRuntime(t, cfg, "./testdata/peerchains").start(t, "fill", "localhost", port, fmt.Sprint(n))
	g.next(t, "ready")
	out, grew := g.goMeasured(t, "kept ")
	fmt.Sscanf(out, "kept %d, failed %d:", &kept, &failed)
	t.Logf("%s; host heap grew by %d KiB", out, grew>>10)
	if limit := int64(cfg.PeerCertBytes); grew > 3*limit+int64(n)*32<<10 {
		t.Errorf("the host's heap grew by %d KiB for a guest whose peers' handshakes may hold %d KiB, want under %d KiB", grew>>10, limit>>10, (3*limit+int64(n)*32<<10)>>10)
	}
	return g, out, kept, failed
}

// dropOneAgain has a fill guest drop the first connection it kept and
// checks that a handshake completes then, and ends it.
func (g *peerChains) dropOneAgain(t *testing.T) {
	t.Helper()
	g.tell("drop")
	if out := g.next(t, "after drop: "); out != "after drop: ok" {
		t.Errorf("%s: want a handshake to complete once a connection was dropped", out)
	}
	g.end(t)
}
