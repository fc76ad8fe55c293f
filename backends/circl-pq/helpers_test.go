package circlpq

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/testpeer"
	"github.com/wasitls/wasitls/internal/testpki"
)

// testCerts is the PKI of this package's tests, minted once per process.
type testCerts struct {
	root   *testpki.CA
	other  *testpki.CA // a root nobody trusts
	p256   *testpki.Leaf
	p384   *testpki.Leaf
	ed     *testpki.Leaf
	rsa    *testpki.Leaf
	client *testpki.Leaf
	// clientEd is a client certificate with an Ed25519 key.
	clientEd *testpki.Leaf
	expired  *testpki.Leaf
	untrust  *testpki.Leaf
}

var (
	certsOnce sync.Once
	certs     *testCerts
	certsErr  error
)

func pki(t testing.TB) *testCerts {
	t.Helper()
	certsOnce.Do(func() {
		c := new(testCerts)
		var err error
		issue := func(ca *testpki.CA, o testpki.LeafOptions) *testpki.Leaf {
			if err != nil {
				return nil
			}
			var l *testpki.Leaf
			l, err = ca.Issue(o)
			return l
		}
		if c.root, err = testpki.NewCAWith("circlpq test root", testpki.ECDSAP256); err != nil {
			certsErr = err
			return
		}
		if c.other, err = testpki.NewCAWith("circlpq untrusted root", testpki.ECDSAP256); err != nil {
			certsErr = err
			return
		}
		names := []string{"a.test", "localhost"}
		p384, kerr := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if kerr != nil {
			certsErr = kerr
			return
		}
		c.p256 = issue(c.root, testpki.LeafOptions{DNSNames: names})
		c.p384 = issue(c.root, testpki.LeafOptions{DNSNames: names, PrivateKey: p384})
		c.ed = issue(c.root, testpki.LeafOptions{DNSNames: names, Key: testpki.Ed25519})
		c.rsa = issue(c.root, testpki.LeafOptions{DNSNames: names, Key: testpki.RSA2048})
		c.client = issue(c.root, testpki.LeafOptions{CommonName: "client", Usage: testpki.ClientAuth})
		c.clientEd = issue(c.root, testpki.LeafOptions{CommonName: "client-ed", Usage: testpki.ClientAuth, Key: testpki.Ed25519})
		now := time.Now()
		c.expired = issue(c.root, testpki.LeafOptions{DNSNames: names, NotBefore: now.Add(-3 * time.Hour), NotAfter: now.Add(-time.Hour)})
		c.untrust = issue(c.other, testpki.LeafOptions{DNSNames: names})
		certs, certsErr = c, err
	})
	if certsErr != nil {
		t.Fatalf("minting test certificates: %v", certsErr)
	}
	return certs
}

// tcpPair returns the two ends of a loopback TCP connection, closed at the
// end of the test, with a deadline that stops a stuck test.
func tcpPair(t testing.TB) (client, server net.Conn) {
	c, s := testnet.TCPPairWithin(t, 20*time.Second)
	return c, s
}

// both runs the client and server sides concurrently and returns their
// errors.
func both(client, server func() error) (clientErr, serverErr error) {
	done := make(chan error, 1)
	go func() { done <- server() }()
	clientErr = client()
	serverErr = <-done
	return clientErr, serverErr
}

func (c *testCerts) clientConfig() *backends.ClientConfig {
	pool := x509.NewCertPool()
	pool.AddCert(c.root.Cert)
	return &backends.ClientConfig{ServerName: "a.test", RootCAs: pool}
}

func (c *testCerts) serverConfig(leaf *testpki.Leaf) *backends.ServerConfig {
	return &backends.ServerConfig{Identities: []*backends.Identity{leaf.Identity()}, ClientCAs: c.root.Pool(), TicketKeys: testTicketKeys}
}

// testTicket is the ticket key of the tests' servers, one for the test
// binary, as a host keeps one for all its connections.
var testTicket = func() backends.TicketKey {
	var k backends.TicketKey
	if _, err := rand.Read(k[:]); err != nil {
		panic(err)
	}
	return k
}()

func testTicketKeys() []backends.TicketKey { return []backends.TicketKey{testTicket} }

func (c *testCerts) goClientConfig() *tls.Config {
	return &tls.Config{ServerName: "a.test", RootCAs: c.root.Pool(), MinVersion: tls.VersionTLS13}
}

func (c *testCerts) goServerConfig(leaf *testpki.Leaf) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, ClientCAs: c.root.Pool()}
}

// echo exchanges a message each way over two connections.
func echo(t testing.TB, client, server io.ReadWriter) {
	t.Helper()
	cerr, serr := both(func() error {
		if _, err := client.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(client, buf); err != nil {
			return err
		}
		if string(buf) != "pong" {
			return errors.New("client read " + string(buf))
		}
		return nil
	}, func() error {
		buf := make([]byte, 4)
		if _, err := io.ReadFull(server, buf); err != nil {
			return err
		}
		if string(buf) != "ping" {
			return errors.New("server read " + string(buf))
		}
		_, err := server.Write([]byte("pong"))
		return err
	})
	if cerr != nil || serr != nil {
		t.Fatalf("echo: client %v, server %v", cerr, serr)
	}
}

// engineClient and engineServer run an engine handshake over a transport.
func engineClient(t testing.TB, conn net.Conn, cfg *backends.ClientConfig) (*Conn, func() error) {
	t.Helper()
	c, err := Client(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() error { return c.Handshake(context.Background()) }
}

func engineServer(t testing.TB, conn net.Conn, cfg *backends.ServerConfig) (*Conn, func() error) {
	t.Helper()
	c, err := Server(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() error { return c.Handshake(context.Background()) }
}

// requirePeer reports a missing external peer: skipped loudly on a
// developer machine, a failure in CI (internal/testpeer).
func requirePeer(t *testing.T, what, why string) {
	t.Helper()
	testpeer.Missing(t, what, why)
}

func dialLoopback(port string) (net.Conn, error) {
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err == nil {
		c.SetDeadline(time.Now().Add(20 * time.Second))
	}
	return c, err
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func readFull(r io.Reader, buf []byte) (int, error) { return io.ReadFull(r, buf) }

func goServer(conn net.Conn, p *testCerts) *tls.Conn {
	return tls.Server(conn, p.goServerConfig(p.p256))
}

func timeNow() time.Time { return time.Now() }
