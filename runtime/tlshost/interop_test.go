package tlshost

import (
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasitls/wasitls/backends"
)

// Session-level interop with independent TLS stacks: Node 24 (OpenSSL
// 3.5), the OpenSSL 3.0 command line and curl. The guest-level tests in
// guest_test.go run the examples against the same peers.

const nodeServer = `
const tls = require('tls');
const srv = tls.createServer({
  key: process.env.KEY, cert: process.env.CERT,
  ecdhCurve: 'X25519MLKEM768', ALPNProtocols: ['h2'],
}, (s) => {
  s.end('node:' + s.getProtocol() + ':' + s.alpnProtocol);
  srv.close();
});
srv.on('tlsClientError', (e) => { console.error(e.message); process.exit(3); });
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
`

const nodeClient = `
const tls = require('tls');
const s = tls.connect({
  host: '127.0.0.1', port: +process.env.PORT, servername: 'localhost',
  ca: process.env.CA, ecdhCurve: 'X25519MLKEM768', ALPNProtocols: ['h2'],
}, () => {
  console.log(s.getProtocol() + ' ' + s.alpnProtocol + ' ' + s.getCipher().standardName);
  s.end('from node');
});
s.on('data', (d) => console.log('got ' + d));
s.on('error', (e) => { console.error(e.message); process.exit(3); });
`

// TestNodeServerX25519MLKEM768 connects a client session to Node 24 with
// only the hybrid group allowed on Node's side.
func TestNodeServerX25519MLKEM768(t *testing.T) {
	node := nodePeer(t)
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		peer := startPeerEnv(t, []string{"KEY=" + string(p.server.KeyPEM()), "CERT=" + string(p.server.ChainPEM())}, node, "-e", nodeServer)
		port := peer.line(t)
		s := newClientSession(b, p.clientBase(), dial(t, "127.0.0.1:"+port))
		defer s.Close()
		s.Connect("localhost")
		s.ConfigureALPN([][]byte{[]byte("h2")})
		conn, err := await(t, s.Finish())
		if err != nil {
			t.Fatalf("handshake with node: %v (node: %s)", err, peer.out.String())
		}
		// Node's end() does not always send close_notify before its FIN;
		// read exactly the message (truncation has its own test).
		got := make([]byte, len("node:TLSv1.3:h2"))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != "node:TLSv1.3:h2" {
			t.Fatalf("read %q, %v", got, err)
		}
		if g := conn.State().Group; g != uint16(tls.X25519MLKEM768) {
			t.Fatalf("group %#04x, want X25519MLKEM768", g)
		}
	})
}

// TestNodeClientX25519MLKEM768 serves Node 24 from a server session.
func TestNodeClientX25519MLKEM768(t *testing.T) {
	node := nodePeer(t)
	p := newPKI(t)
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		peer := startPeerEnv(t, []string{"PORT=" + port, "CA=" + string(p.ca.CertPEM())}, node, "-e", nodeClient)
		raw, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s := newServerSession(b, backends.ServerConfig{}, raw)
		defer s.Close()
		s.Accept()
		s.ConfigureIdentities([]*backends.Identity{p.server.Identity()})
		s.ConfigureALPN([][]byte{[]byte("h2")})
		conn, err := await(t, s.Finish())
		if err != nil {
			t.Fatalf("handshake with node: %v", err)
		}
		buf := make([]byte, 9)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "from node" {
			t.Fatalf("read %q, %v", buf, err)
		}
		conn.Write([]byte("hi node"))
		conn.CloseWrite()
		out, err := peer.rest(t)
		if err != nil || !strings.Contains(out, "TLSv1.3 h2 TLS_") || !strings.Contains(out, "got hi node") {
			t.Fatalf("node: %q, %v (stderr %s)", out, err, peer.out.String())
		}
		if g := conn.State().Group; g != uint16(tls.X25519MLKEM768) {
			t.Fatalf("group %#04x, want X25519MLKEM768", g)
		}
	})
}

// TestOpenSSLClient serves openssl s_client with SNI, ALPN and a client
// certificate.
func TestOpenSSLClient(t *testing.T) {
	openssl := opensslPeer(t)
	p := newPKI(t)
	dir := writeFiles(t, map[string][]byte{
		"ca.pem": p.ca.CertPEM(), "client.pem": p.client.ChainPEM(), "client.key": p.client.KeyPEM(),
	})
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		peer := startPeer(t, "ping\n", openssl, "s_client", "-connect", ln.Addr().String(),
			"-servername", "example.com", "-alpn", "h2,http/1.1",
			"-cert", filepath.Join(dir, "client.pem"), "-key", filepath.Join(dir, "client.key"),
			"-CAfile", filepath.Join(dir, "ca.pem"), "-verify_return_error", "-verify_hostname", "example.com", "-ign_eof")
		raw, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s := newServerSession(b, backends.ServerConfig{ClientCAs: p.ca.Pool()}, raw)
		defer s.Close()
		s.Accept()
		hf, _ := s.ReceiveClientHello()
		hello, err := await(t, hf)
		if err != nil {
			t.Fatal(err)
		}
		if hello.ServerName != "example.com" || strings.Join(hello.alpn.strings(), ",") != "h2,http/1.1" {
			t.Fatalf("hello: %+v", hello)
		}
		s.ConfigureIdentities([]*backends.Identity{p.server.Identity()})
		s.ConfigureALPN([][]byte{[]byte("http/1.1")})
		cf, _ := s.RequestClientIdentity()
		pc, err := await(t, cf)
		chain := pc.certs()
		if err != nil || len(chain) == 0 {
			t.Fatalf("client certificate: %d, %v", len(chain), err)
		}
		conn, err := await(t, s.Finish())
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping\n" {
			t.Fatalf("read %q, %v", buf, err)
		}
		conn.Write([]byte("pong\n"))
		conn.CloseWrite()
		out, _ := peer.rest(t)
		if !strings.Contains(out, "pong") || !strings.Contains(out, "ALPN protocol: http/1.1") || !strings.Contains(out, "Verify return code: 0 (ok)") {
			t.Fatalf("openssl output:\n%s\nstderr:\n%s", out, peer.out.String())
		}
	})
}

// TestCurlClient serves curl an HTTP/1.1 response.
func TestCurlClient(t *testing.T) {
	curl := curlPeer(t)
	p := newPKI(t)
	dir := writeFiles(t, map[string][]byte{"ca.pem": p.ca.CertPEM()})
	forEachBackend(t, func(t *testing.T, b backends.Backend) {
		checkNoLeak(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		peer := startPeer(t, "", curl, "-sS", "--http1.1", "--cacert", filepath.Join(dir, "ca.pem"),
			"--resolve", "example.com:"+port+":127.0.0.1", "https://example.com:"+port+"/hello")
		raw, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s := newServerSession(b, backends.ServerConfig{}, raw)
		defer s.Close()
		s.Accept()
		s.ConfigureIdentities([]*backends.Identity{p.server.Identity()})
		s.ConfigureALPN([][]byte{[]byte("http/1.1")})
		conn, err := await(t, s.Finish())
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "GET /hello HTTP/" {
			t.Fatalf("read %q, %v", buf, err)
		}
		conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"))
		conn.CloseWrite()
		out, err := peer.rest(t)
		if err != nil || out != "hello\n" {
			t.Fatalf("curl: %q, %v (stderr %s)", out, err, peer.out.String())
		}
	})
}
