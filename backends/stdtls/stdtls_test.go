package stdtls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	"github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testnet"
	"github.com/wasitls/wasitls/internal/testpki"
)

func TestRegistered(t *testing.T) {
	b, err := backends.ByName("stdtls")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(stdtls.Backend); !ok {
		t.Fatalf("ByName(stdtls) = %T", b)
	}
}

// TestNoCIRCL checks that a binary using stdtls does not link CIRCL.
func TestNoCIRCL(t *testing.T) {
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gocmd, "list", "-deps", "github.com/wasitls/wasitls/backends/stdtls").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "crypto/tls") {
		t.Fatalf("go list -deps output looks wrong:\n%s", out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "cloudflare/circl") {
			t.Errorf("stdtls depends on %s", dep)
		}
	}
}

type fixture struct {
	ca     *testpki.CA
	server *testpki.Leaf
	client *testpki.Leaf
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue(testpki.LeafOptions{CommonName: "client", Usage: testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ca, server, client}
}

func (f *fixture) configs() (*backends.ClientConfig, *backends.ServerConfig) {
	return &backends.ClientConfig{ServerName: "a.test", RootCAs: f.ca.Pool()},
		&backends.ServerConfig{Identities: []*backends.Identity{f.server.Identity()}, ClientCAs: f.ca.Pool()}
}

// handshake connects a stdtls client and server over loopback TCP.
func handshake(t testing.TB, cc *backends.ClientConfig, sc *backends.ServerConfig) (client, server backends.Conn, cerr, serr error) {
	t.Helper()
	craw, sraw := testnet.TCPPair(t)
	var err error
	var b stdtls.Backend
	if client, err = b.Client(craw, cc); err != nil {
		t.Fatal(err)
	}
	if server, err = b.Server(sraw, sc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- server.Handshake(ctx) }()
	cerr = client.Handshake(ctx)
	if cerr != nil {
		sraw.SetDeadline(time.Now().Add(2 * time.Second))
	}
	serr = <-done
	return
}

// serverByte has server write a byte, and then drain what it is sent,
// while client reads that byte (and what comes before it, tickets among
// them); it returns the client's read error.
func serverByte(client, server backends.Conn) error {
	go func() { server.Write([]byte{1}); io.Copy(io.Discard, server) }()
	_, err := io.ReadFull(client, make([]byte, 1))
	return err
}

// goClientExchange connects a crypto/tls client with ccfg to a stdtls
// server with sc over loopback TCP: the server handshakes and writes a
// byte, which the client reads (and the tickets on its way), then both
// close. It returns them, closed, with their errors.
func goClientExchange(t *testing.T, ccfg *tls.Config, sc *backends.ServerConfig) (client *tls.Conn, server backends.Conn, cerr, serr error) {
	t.Helper()
	craw, sraw := testnet.TCPPair(t)
	server, err := stdtls.Backend{}.Server(sraw, sc)
	if err != nil {
		t.Fatal(err)
	}
	client = tls.Client(craw, ccfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		err := server.Handshake(ctx)
		if err == nil {
			_, err = server.Write([]byte{1})
		}
		served <- err
		io.Copy(io.Discard, server)
	}()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	if _, cerr = io.ReadFull(client, make([]byte, 1)); cerr != nil {
		sraw.SetDeadline(time.Now().Add(2 * time.Second))
	}
	serr = <-served
	client.Close()
	server.Close()
	return client, server, cerr, serr
}

func TestTLS12(t *testing.T) {
	f := newFixture(t)
	cc, sc := f.configs()
	cc.Versions = []uint16{tls.VersionTLS12}
	sc.Versions = []uint16{tls.VersionTLS12, tls.VersionTLS13}
	sc.ClientAuth = backends.RequireClientCert
	var order []string
	cc.VerifyServer = func(context.Context, [][]byte) error { order = append(order, "verify-server"); return nil }
	cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		order = append(order, "client-identity")
		return []*backends.Identity{f.client.Identity()}, nil
	}
	c, s, cerr, serr := handshake(t, cc, sc)
	if cerr != nil || serr != nil {
		t.Fatalf("client: %v; server: %v", cerr, serr)
	}
	for _, st := range []backends.State{c.State(), s.State()} {
		if st.Version != tls.VersionTLS12 || st.Group == 0 || st.CipherSuite == 0 {
			t.Errorf("state %+v; want TLS 1.2 with a group and suite", st)
		}
	}
	if strings.Join(order, ",") != "verify-server,client-identity" {
		t.Errorf("hooks ran as %v", order)
	}
	if len(s.State().PeerChain) != 1 {
		t.Errorf("server saw %d client certificates", len(s.State().PeerChain))
	}
}

func TestClientIdentityHookError(t *testing.T) {
	f := newFixture(t)
	cc, sc := f.configs()
	sc.ClientAuth = backends.RequestClientCert
	cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
		return nil, backends.ErrAborted
	}
	_, _, cerr, serr := handshake(t, cc, sc)
	if !errors.Is(cerr, backends.ErrAborted) {
		t.Errorf("client: %v; want ErrAborted", cerr)
	}
	// In TLS 1.3 crypto/tls sends no alert here (the package documents
	// it); the server must still fail at once, on the closed transport.
	if serr == nil || !strings.Contains(serr.Error(), "EOF") {
		t.Errorf("server: %v; want the transport closed", serr)
	}
}

func TestServerWithoutIdentity(t *testing.T) {
	f := newFixture(t)
	cc, sc := f.configs()
	sc.Identities = nil
	_, _, cerr, serr := handshake(t, cc, sc)
	if serr == nil || !strings.Contains(serr.Error(), "no server identity") {
		t.Errorf("server: %v", serr)
	}
	if cerr == nil || !strings.Contains(cerr.Error(), "handshake failure") {
		t.Errorf("client: %v; want a handshake_failure alert", cerr)
	}
}

// TestNoIdentityFitsNamesWhy: when no identity fits a ClientHello, the
// server's error names crypto/tls's reason: here a TLS 1.2 client
// offering only a CBC suite to a server allowing GCM ones. Before, it
// always blamed the client's signature schemes, as if a client without
// a common cipher suite had a signature problem. The client gets
// handshake_failure.
func TestNoIdentityFitsNamesWhy(t *testing.T) {
	f := newFixture(t)
	cc, sc := f.configs()
	cc.Versions = []uint16{tls.VersionTLS12}
	cc.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	sc.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256}
	_, _, cerr, serr := handshake(t, cc, sc)
	if serr == nil || !strings.Contains(serr.Error(), "none of the 1 server identities fits") || !strings.Contains(serr.Error(), "cipher suites") {
		t.Errorf("server: %v; want its reason, naming the cipher suites", serr)
	}
	if cerr == nil || !strings.Contains(cerr.Error(), "handshake failure") {
		t.Errorf("client: %v; want a handshake_failure alert", cerr)
	}
}

func TestStateDuringHandshake(t *testing.T) {
	f := newFixture(t)
	cc, sc := f.configs()
	entered, release := make(chan struct{}), make(chan struct{})
	cc.VerifyServer = func(context.Context, [][]byte) error {
		close(entered)
		<-release
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		s, _ := stdtls.Backend{}.Server(raw, sc)
		s.Handshake(context.Background())
		io.Copy(io.Discard, s)
		s.Close()
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client, err := stdtls.Backend{}.Client(raw, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	done := make(chan error, 1)
	go func() { done <- client.Handshake(context.Background()) }()
	<-entered
	stateCh := make(chan backends.State, 1)
	go func() { stateCh <- client.State() }()
	select {
	case st := <-stateCh:
		if st.HandshakeComplete || st.Version != tls.VersionTLS13 || len(st.PeerChain) != 1 || st.ServerName != "a.test" {
			t.Errorf("mid-handshake state %+v; want TLS 1.3, the peer chain, not complete", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("State blocked during the handshake")
	}
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Error("Read during the handshake succeeded")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !client.State().HandshakeComplete {
		t.Error("HandshakeComplete false after Handshake")
	}
}

func TestMisuse(t *testing.T) {
	var b stdtls.Backend
	a, z := net.Pipe()
	defer a.Close()
	defer z.Close()
	if _, err := b.Client(a, &backends.ClientConfig{}); err == nil || !strings.Contains(err.Error(), "ServerName") {
		t.Errorf("Client without ServerName: %v", err)
	}
	if _, err := b.Client(nil, &backends.ClientConfig{ServerName: "x"}); err == nil {
		t.Error("Client without transport succeeded")
	}
	if _, err := b.Server(a, &backends.ServerConfig{ClientAuth: 7}); err == nil {
		t.Error("Server with unknown ClientAuth succeeded")
	}
	c, err := b.Client(a, &backends.ClientConfig{ServerName: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("Write before Handshake succeeded")
	}
	if err := c.CloseWrite(); err == nil {
		t.Error("CloseWrite before Handshake succeeded")
	}
	if _, err := c.RequestClientIdentity(context.Background()); err == nil || errors.Is(err, backends.ErrNotSupported) {
		t.Errorf("RequestClientIdentity on a client: %v; want a misuse error", err)
	}
}

func TestPostHandshakeAuthMessage(t *testing.T) {
	f := newFixture(t)
	cc, sc := f.configs()
	_, s, cerr, serr := handshake(t, cc, sc)
	if cerr != nil || serr != nil {
		t.Fatal(cerr, serr)
	}
	_, err := s.RequestClientIdentity(context.Background())
	if !errors.Is(err, backends.ErrNotSupported) || !strings.Contains(err.Error(), "crypto/tls") {
		t.Errorf("RequestClientIdentity: %v", err)
	}
}

// TestMaxRSAKeyBits: a host's MaxRSAKeyBits below crypto/tls's own bound
// refuses a peer's larger RSA key, client and server side, before the
// peer's CertificateVerify is checked: the peer's key here has no private
// key behind it (testpki.HugeRSAKey), and the error names the bound, not
// a bad signature.
func TestMaxRSAKeyBits(t *testing.T) {
	f := newFixture(t)
	key, err := testpki.HugeRSAKey(4096)
	if err != nil {
		t.Fatal(err)
	}
	server, err := f.ca.Issue(testpki.LeafOptions{DNSNames: []string{"a.test"}, PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	client, err := f.ca.Issue(testpki.LeafOptions{CommonName: "client", Usage: testpki.ClientAuth, PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	const want = "holds an RSA key larger than 2048 bits (4096)"
	t.Run("server-key", func(t *testing.T) {
		cc, sc := f.configs()
		cc.MaxRSAKeyBits = 2048
		sc.Identities = []*backends.Identity{server.Identity()}
		_, _, cerr, serr := handshake(t, cc, sc)
		if cerr == nil || !strings.Contains(cerr.Error(), want) {
			t.Errorf("client: %v; want %q", cerr, want)
		}
		if serr == nil || !strings.Contains(serr.Error(), "bad certificate") {
			t.Errorf("server: %v; want the client's bad_certificate", serr)
		}
	})
	t.Run("client-key", func(t *testing.T) {
		cc, sc := f.configs()
		sc.MaxRSAKeyBits = 2048
		sc.ClientAuth = backends.RequireClientCert
		cc.ClientIdentity = func(context.Context, *backends.IdentityRequest) ([]*backends.Identity, error) {
			return []*backends.Identity{client.Identity()}, nil
		}
		_, _, _, serr := handshake(t, cc, sc)
		if serr == nil || !strings.Contains(serr.Error(), want) {
			t.Errorf("server: %v; want %q", serr, want)
		}
	})
}
