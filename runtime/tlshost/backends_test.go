package tlshost

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasitls/wasitls/backends"
	_ "github.com/wasitls/wasitls/backends/circl-pq"
	_ "github.com/wasitls/wasitls/backends/stdtls"
	"github.com/wasitls/wasitls/internal/testpki"
)

// These tests run the session state machines over every registered backend
// against Go's crypto/tls on loopback, without a guest: they pin down what
// the guest-facing API will see.

// pki is a throwaway CA with a server and a client identity.
type pki struct {
	ca      *testpki.CA
	server  *testpki.Leaf
	client  *testpki.Leaf
	expired *testpki.Leaf
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost", "example.com"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue(testpki.LeafOptions{CommonName: "guest client", EmailAddresses: []string{"guest@example.com"}, Usage: testpki.ClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := ca.Issue(testpki.LeafOptions{DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return &pki{ca: ca, server: server, client: client, expired: expired}
}

// forEachBackend runs f over every registered backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backends.Backend)) {
	for _, name := range backends.Names() {
		b, err := backends.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { f(t, b) })
	}
}

// goServer runs a crypto/tls server for one connection. The returned
// channel delivers the server's handshake or I/O error (nil on success)
// after it echoed one line back prefixed with the negotiated ALPN.
func goServer(t *testing.T, cfg *tls.Config) (addr string, result <-chan error) {
	t.Helper()
	return goServerAfter(t, cfg, 0)
}

// goServerAfter is goServer waiting delay after the accept, before it reads
// the ClientHello: a slow peer.
func goServerAfter(t *testing.T, cfg *tls.Config, delay time.Duration) (addr string, result <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- err
			return
		}
		defer c.Close()
		time.Sleep(delay)
		c.SetDeadline(time.Now().Add(waitLimit))
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			ch <- err
			return
		}
		buf := make([]byte, 64)
		n, err := tc.Read(buf)
		if err != nil {
			ch <- err
			return
		}
		st := tc.ConnectionState()
		_, err = tc.Write(append([]byte(st.NegotiatedProtocol+":"), buf[:n]...))
		tc.Close()
		ch <- err
	}()
	return ln.Addr().String(), ch
}

// checkGoServerEcho writes "hello" on conn, a connection to goServer,
// reads what the server sends until it closes, which must be the echo
// prefixed with alpn, and checks the server's result.
func checkGoServerEcho(t *testing.T, conn io.ReadWriter, result <-chan error, alpn string) {
	t.Helper()
	if _, err := conn.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != alpn+":hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := recvErr(t, result); err != nil {
		t.Fatalf("server: %v", err)
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recvErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(waitLimit):
		t.Fatal("peer did not finish in time")
		return nil
	}
}

func (p *pki) clientBase() backends.ClientConfig {
	return backends.ClientConfig{RootCAs: p.ca.Pool()}
}

func TestBackendClientShowcaseFlow(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		addr, res := goServer(t, &tls.Config{
			Certificates: []tls.Certificate{p.server.TLSCertificate()},
			NextProtos:   []string{"h2", "http/1.1"},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    p.ca.Pool(),
		})
		s := newClientSession(b, p.clientBase(), dial(t, addr))
		defer s.Close()
		if err := s.Connect("localhost"); err != nil {
			t.Fatal(err)
		}
		if err := s.ConfigureALPN([][]byte{[]byte("h2")}); err != nil {
			t.Fatal(err)
		}
		vf, _ := s.VerifyServerIdentity()
		pc, err := await(t, vf)
		chain := pc.certs()
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(chain[0])
		if err != nil || leaf.Subject.CommonName != "localhost" {
			t.Fatalf("server leaf: %v, %v", leaf, err)
		}
		rf, err := s.ReceiveClientIdentityRequest()
		if err != nil {
			t.Fatal(err)
		}
		req, err := await(t, rf)
		if err != nil || req == nil {
			t.Fatalf("certificate request: %v, %v", req, err)
		}
		id := p.client.Identity()
		req.Respond([]*backends.Identity{id})
		conn, err := await(t, s.Finish())
		if err != nil {
			t.Fatal(err)
		}
		checkGoServerEcho(t, conn, res, "h2")
		st := conn.State()
		if st.ALPN != "h2" || st.Version != tls.VersionTLS13 || st.LocalIdentity != id || st.Group != uint16(tls.X25519MLKEM768) {
			t.Fatalf("state: alpn %q version %x group %x local %v", st.ALPN, st.Version, st.Group, st.LocalIdentity)
		}
	})
}

func TestBackendClientValidationFailures(t *testing.T) {
	p := newPKI(t)
	other, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, serverName string
		cert             *testpki.Leaf
		roots            *x509.CertPool
		want             string
	}{
		{"wrong hostname", "wrong.example", p.server, p.ca.Pool(), "wrong.example"},
		{"unknown CA", "localhost", p.server, other.Pool(), "unknown authority"},
		{"expired", "localhost", p.expired, p.ca.Pool(), "expired"},
	}
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				checkNoLeak(t)
				addr, res := goServer(t, &tls.Config{Certificates: []tls.Certificate{tc.cert.TLSCertificate()}})
				s := newClientSession(b, backends.ClientConfig{RootCAs: tc.roots}, dial(t, addr))
				defer s.Close()
				s.Connect(tc.serverName)
				vf, _ := s.VerifyServerIdentity()
				_, err := await(t, vf)
				wantErr(t, err, tc.want)
				_, err = await(t, s.Finish())
				wantErr(t, err, tc.want)
				if err := recvErr(t, res); err == nil {
					t.Fatal("server handshake succeeded")
				}
			})
		}
	})
}

func TestBackendClientAbortSendsAlert(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		addr, res := goServer(t, &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}})
		s := newClientSession(b, p.clientBase(), dial(t, addr))
		defer s.Close()
		s.Connect("localhost")
		vf, _ := s.VerifyServerIdentity()
		if _, err := await(t, vf); err != nil {
			t.Fatal(err)
		}
		waitSignal(t, s.Abort())
		err := recvErr(t, res)
		// The peer must see an alert, not just a closed connection.
		if err == nil || !strings.Contains(err.Error(), "remote error: tls:") {
			t.Fatalf("server saw %v, want a TLS alert", err)
		}
	})
}

func TestBackendClientCertificateMissing(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		addr, res := goServer(t, &tls.Config{
			Certificates: []tls.Certificate{p.server.TLSCertificate()},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    p.ca.Pool(),
		})
		s := newClientSession(b, p.clientBase(), dial(t, addr))
		defer s.Close()
		s.Connect("localhost")
		rf, _ := s.ReceiveClientIdentityRequest()
		req, err := await(t, rf)
		if err != nil || req == nil {
			t.Fatalf("request: %v %v", req, err)
		}
		req.Drop() // no certificate
		conn, err := await(t, s.Finish())
		if err == nil {
			// TLS 1.3: the client's handshake completes before the server
			// judges its empty Certificate; the alert arrives on read.
			_, err = conn.Read(make([]byte, 1))
		}
		wantErr(t, err, "certificate required")
		wantErr(t, recvErr(t, res), "client didn't provide a certificate")
	})
}

func TestBackendClientALPNMismatch(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		addr, res := goServer(t, &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}, NextProtos: []string{"h2"}})
		s := newClientSession(b, p.clientBase(), dial(t, addr))
		defer s.Close()
		s.Connect("localhost")
		s.ConfigureALPN([][]byte{[]byte("spdy/3")})
		_, err := await(t, s.Finish())
		wantErr(t, err, "no application protocol")
		wantErr(t, recvErr(t, res), "client requested unsupported application protocols")
	})
}

func TestBackendClientPeerClosesMidHandshake(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 5)) // part of the ClientHello
			c.Close()
		}()
		s := newClientSession(b, backends.ClientConfig{}, dial(t, ln.Addr().String()))
		defer s.Close()
		s.Connect("localhost")
		_, err = await(t, s.Finish())
		if err == nil {
			t.Fatal("handshake succeeded against a peer that hung up")
		}
	})
}

func TestBackendClientTruncation(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}})
			if tc.Handshake() == nil {
				tc.Write([]byte("partial"))
			}
			c.Close() // no close_notify
		}()
		s := newClientSession(b, p.clientBase(), dial(t, ln.Addr().String()))
		defer s.Close()
		s.Connect("localhost")
		conn, err := await(t, s.Finish())
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(conn)
		if string(got) != "partial" || err == nil {
			t.Fatalf("read %q, %v: want the data, then an error for the missing close_notify", got, err)
		}
	})
}

// goClient dials addr with crypto/tls and reports the connection state.
func goClient(t *testing.T, addr string, cfg *tls.Config) (<-chan tls.ConnectionState, <-chan error) {
	states := make(chan tls.ConnectionState, 1)
	errs := make(chan error, 1)
	go func() {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitLimit}, "tcp", addr, cfg)
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(waitLimit))
		if _, err := c.Write([]byte("ping")); err != nil {
			errs <- err
			return
		}
		got, err := io.ReadAll(c)
		if err == nil && !bytes.Equal(got, []byte("pong")) {
			err = errors.New("unexpected reply " + string(got))
		}
		states <- c.ConnectionState()
		errs <- err
	}()
	return states, errs
}

func accept(t *testing.T) (addr string, conns <-chan net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			t.Cleanup(func() { c.Close() })
			ch <- c
		}
	}()
	return ln.Addr().String(), ch
}

func TestBackendServerShowcaseFlow(t *testing.T) {
	p := newPKI(t)
	other, err := p.ca.Issue(testpki.LeafOptions{DNSNames: []string{"other.example"}})
	if err != nil {
		t.Fatal(err)
	}
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		addr, conns := accept(t)
		clientCert := p.client.TLSCertificate()
		states, errs := goClient(t, addr, &tls.Config{
			ServerName: "example.com", RootCAs: p.ca.Pool(), NextProtos: []string{"http/1.1", "h2"},
			Certificates: []tls.Certificate{clientCert},
		})
		s := newServerSession(b, backends.ServerConfig{ClientCAs: p.ca.Pool()}, <-conns)
		defer s.Close()
		s.Accept()
		s.ConfigureIdentities([]*backends.Identity{other.Identity()})
		hf, _ := s.ReceiveClientHello()
		hello, err := await(t, hf)
		if err != nil {
			t.Fatal(err)
		}
		if hello.ServerName != "example.com" || len(hello.alpn.strings()) != 2 || len(hello.CipherSuites) == 0 {
			t.Fatalf("hello: %+v", hello)
		}
		// Identity and ALPN chosen from the hello.
		serverID := p.server.Identity()
		s.ConfigureIdentities([]*backends.Identity{serverID})
		s.ConfigureALPN([][]byte{[]byte("h2")})
		cf, err := s.RequestClientIdentity()
		if err != nil {
			t.Fatal(err)
		}
		pc, err := await(t, cf)
		chain := pc.certs()
		if err != nil || len(chain) == 0 {
			t.Fatalf("client identity: %d certs, %v", len(chain), err)
		}
		conn, err := await(t, s.Finish())
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("read %q %v", buf, err)
		}
		conn.Write([]byte("pong"))
		if err := conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if err := recvErr(t, errs); err != nil {
			t.Fatal(err)
		}
		cs := <-states
		if cs.NegotiatedProtocol != "h2" || !bytes.Equal(cs.PeerCertificates[0].Raw, p.server.Chain[0]) {
			t.Fatalf("client saw alpn %q and another certificate", cs.NegotiatedProtocol)
		}
		st := conn.State()
		if st.ServerName != "example.com" || st.LocalIdentity != serverID || len(s.ClientChain().certs()) == 0 {
			t.Fatalf("state: %+v", st)
		}
		// Post-handshake authentication: reported honestly per backend.
		pf, err := s.RequestClientIdentityPost()
		if err != nil {
			t.Fatal(err)
		}
		_, err = await(t, pf)
		if b.Name() == "stdtls" {
			wantErr(t, err, "not supported")
		}
	})
}

func TestBackendServerAbortAtHello(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		addr, conns := accept(t)
		_, errs := goClient(t, addr, &tls.Config{ServerName: "localhost", RootCAs: p.ca.Pool()})
		s := newServerSession(b, backends.ServerConfig{}, <-conns)
		defer s.Close()
		s.Accept()
		hf, _ := s.ReceiveClientHello()
		if _, err := await(t, hf); err != nil {
			t.Fatal(err)
		}
		waitSignal(t, s.Abort())
		wantErr(t, recvErr(t, errs), "remote error: tls:")
	})
}

func TestBackendServerClientCertificateRequiredByGuest(t *testing.T) {
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		addr, conns := accept(t)
		_, errs := goClient(t, addr, &tls.Config{ServerName: "localhost", RootCAs: p.ca.Pool()})
		s := newServerSession(b, backends.ServerConfig{ClientCAs: p.ca.Pool()}, <-conns)
		defer s.Close()
		s.Accept()
		s.ConfigureIdentities([]*backends.Identity{p.server.Identity()})
		cf, _ := s.RequestClientIdentity()
		pc, err := await(t, cf)
		chain := pc.certs()
		if err != nil || chain != nil {
			t.Fatalf("want none, got %d certs, %v", len(chain), err)
		}
		// ClientCertificateRequired, the .NET way: abort on none.
		waitSignal(t, s.Abort())
		if err := recvErr(t, errs); err == nil {
			t.Fatal("client did not notice the abort")
		}
	})
}
