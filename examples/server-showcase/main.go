//go:build wasip1

// Command server-showcase is the design text's server features showcase:
// the identity and ALPN protocols are chosen from the ClientHello, a client
// certificate is requested (and checked by custom logic in addition to the
// host's validation), every status accessor is printed, and a request for
// /secure without a client certificate triggers post-handshake
// authentication, whose outcome is reported as the backend gives it.
//
//	server-showcase [HOST:]PORT KEY1 CERT1 KEY2 CERT2 [CONNECTIONS]
//
// Identity 1 (with ALPN h2 only) serves clients asking for example.com;
// identity 2 (with h2 and http/1.1) everyone else. A client certificate
// whose common name is "blocked" makes the server abort the handshake.
// HOST defaults to 127.0.0.1 (0.0.0.0 for every interface); PORT 0 picks
// a free port.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o bin/server-showcase.wasm ./examples/server-showcase
//
// go run ./cmd/wasitls demo runs it against client-showcase with a throwaway CA.
package main

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wasitls/wasitls/examples/wasinet"
	wio "github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
	"github.com/wasitls/wasitls/tlsnames"
)

func main() {
	if len(os.Args) < 6 {
		fmt.Fprintln(os.Stderr, "usage: server-showcase [HOST:]PORT KEY1 CERT1 KEY2 CERT2 [CONNECTIONS]")
		os.Exit(2)
	}
	id1 := parseIdentity(os.Args[2], os.Args[3])
	id2 := parseIdentity(os.Args[4], os.Args[5])
	limit := -1
	var err error
	if len(os.Args) > 6 {
		if limit, err = strconv.Atoi(os.Args[6]); err != nil {
			fail("connections: %v", err)
		}
	}

	ln, bound, err := wasinet.Listen(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	fmt.Printf("listening on %v\n", bound)
	for served := 0; limit < 0 || served < limit; served++ {
		sock, tcpIn, tcpOut, err := wasinet.Accept(ln)
		if err != nil {
			fail("accept: %v", err)
		}
		if err := serve(id1, id2, tcpIn, tcpOut); err != nil {
			fmt.Printf("connection failed: %v\n", err)
		}
		sock.Drop()
	}
}

func parseIdentity(keyFile, certFile string) tls.PrivateIdentity {
	key, err := os.ReadFile(keyFile)
	if err != nil {
		fail("%v", err)
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		fail("%v", err)
	}
	id, err := tls.ParsePrivateIdentity(key, [][]byte{cert})
	if err != nil {
		fail("the host could not parse %s and %s", keyFile, certFile)
	}
	clear(key)
	return id
}

func serve(id1, id2 tls.PrivateIdentity, tcpIn wio.InputStream, tcpOut wio.OutputStream) error {
	conn := tls.NewServerConnection(tcpIn, tcpOut)
	defer conn.Drop()
	handshake, err := conn.Accept()
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}

	// Configure the connection from the ClientHello.
	helloFuture, err := handshake.ReceiveClientHello()
	if err != nil {
		return fmt.Errorf("receive-client-hello: %w", err)
	}
	wasinet.Await(helloFuture.Subscribe())
	hello, _, err := helloFuture.Get()
	helloFuture.Drop()
	if err != nil {
		tls.ServerHandshakeAbort(handshake).Drop()
		return fmt.Errorf("no ClientHello")
	}
	sni, hasSNI := hello.ServerName()
	alpnIDs := hello.ALPNIDs()
	suites := hello.CipherSuites()
	hello.Drop()
	fmt.Printf("client hello: server-name %s, alpn-ids %s, %d cipher suites %s\n",
		optional(sni, hasSNI), joinIDs(alpnIDs), len(suites), hexList(suites))
	if hasSNI && sni == "example.com" {
		handshake.ConfigureALPNIDs([][]byte{[]byte("h2")})
		handshake.ConfigureServerIdentities([]tls.PrivateIdentity{id1})
	} else {
		handshake.ConfigureALPNIDs([][]byte{[]byte("h2"), []byte("http/1.1")})
		handshake.ConfigureServerIdentities([]tls.PrivateIdentity{id2})
	}

	// Request a client certificate.
	certFuture, err := handshake.RequestClientIdentity()
	if err != nil {
		return fmt.Errorf("request-client-identity: %w", err)
	}
	wasinet.Await(certFuture.Subscribe())
	clientCert, some, _, err := certFuture.Get()
	certFuture.Drop()
	switch {
	case err != nil:
		tls.ServerHandshakeAbort(handshake).Drop()
		return fmt.Errorf("the handshake failed before the client certificate")
	case some:
		chain := clientCert.ExportX509Chain()
		clientCert.Drop()
		c, err := x509.ParseCertificate(chain[0])
		if err != nil {
			wasinet.Await(tls.ServerHandshakeAbort(handshake))
			return fmt.Errorf("cannot parse the client certificate: %w", err)
		}
		fmt.Printf("client certificate: subject %q, issuer %q\n", c.Subject.CommonName, c.Issuer.CommonName)
		// Custom logic, in addition to the host's validation.
		if c.Subject.CommonName == "blocked" {
			wasinet.Await(tls.ServerHandshakeAbort(handshake))
			return fmt.Errorf("client %q is blocked: handshake aborted", c.Subject.CommonName)
		}
	default:
		fmt.Println("client certificate: none")
	}

	finish := tls.ServerHandshakeFinish(handshake)
	wasinet.Await(finish.Subscribe())
	in, out, _, err := finish.Get()
	finish.Drop()
	if err != nil {
		return fmt.Errorf("tls handshake failed")
	}
	defer in.Drop()
	defer out.Drop()

	// Display the connection status.
	var status strings.Builder
	name, ok := conn.ServerName()
	fmt.Fprintf(&status, "server-name: %s\n", optional(name, ok))
	alpn, ok := conn.ALPNID()
	fmt.Fprintf(&status, "alpn-id: %s\n", optional(string(alpn), ok))
	fmt.Fprintf(&status, "client-identity: %s\n", peerName(conn))
	if id, ok := conn.ServerIdentity(); ok {
		pub := id.PublicIdentity()
		c, _ := x509.ParseCertificate(pub.ExportX509Chain()[0])
		pub.Drop()
		id.Drop()
		fmt.Fprintf(&status, "server-identity: %q\n", c.Subject.CommonName)
	}
	v, _ := conn.ProtocolVersion()
	fmt.Fprintf(&status, "protocol-version: %s\n", tlsnames.Describe(tlsnames.Version, v))
	cs, _ := conn.CipherSuite()
	fmt.Fprintf(&status, "cipher-suite: %s\n", tlsnames.Describe(tlsnames.CipherSuite, cs))
	g, _ := tlsext.ServerNegotiatedGroup(conn)
	fmt.Fprintf(&status, "group: %s\n", tlsnames.Describe(tlsnames.Group, g))
	fmt.Print(status.String())

	request, err := wasinet.ReadSome(in)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	line, _, _ := bytes.Cut(request, []byte("\r\n"))
	fmt.Printf("request: %q\n", line)

	// Post-handshake authentication based on the HTTP path.
	if bytes.HasPrefix(request, []byte("GET /secure")) && peerName(conn) == "none" {
		post := postHandshakeAuth(conn)
		fmt.Println(post)
		fmt.Fprintln(&status, post)
	}

	if string(alpn) == "h2" {
		// Speak just enough HTTP/2 to show it was negotiated: the server
		// connection preface is a SETTINGS frame (RFC 9113, Section 3.4).
		if err := out.BlockingWriteAndFlush([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}); err != nil {
			return err
		}
		return closeServer(conn)
	}
	body := status.String()
	resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	if err := out.BlockingWriteAndFlush([]byte(resp)); err != nil {
		return err
	}
	return closeServer(conn)
}

// closeServer shuts the sending side down gracefully: close_notify.
func closeServer(conn tls.ServerConnection) error {
	if err := tlsext.CloseServerOutput(conn); err != nil {
		return fmt.Errorf("close-server-output: %w", err)
	}
	return nil
}

// postHandshakeAuth asks the client for a certificate after the handshake
// and describes the outcome.
func postHandshakeAuth(conn tls.ServerConnection) string {
	f, err := conn.RequestClientIdentity()
	if err != nil {
		reason, _ := tlsext.ServerLastError(conn)
		return "post-handshake authentication: refused by the host: " + reason
	}
	defer f.Drop()
	wasinet.Await(f.Subscribe())
	id, some, _, err := f.Get()
	switch {
	case err != nil:
		// The proposal's result carries no reason; the extensions do.
		// crypto/tls (stdtls) cannot do TLS 1.3 post-handshake
		// authentication at all; circl-pq can, if the client offered it.
		reason, _ := tlsext.ServerLastError(conn)
		return "post-handshake authentication: failed: " + reason
	case !some:
		return "post-handshake authentication: the client sent no certificate"
	}
	defer id.Drop()
	c, err := x509.ParseCertificate(id.ExportX509Chain()[0])
	if err != nil {
		return "post-handshake authentication: unparsable certificate"
	}
	return fmt.Sprintf("post-handshake authentication: client %q", c.Subject.CommonName)
}

func peerName(conn tls.ServerConnection) string {
	id, ok := conn.ClientIdentity()
	if !ok {
		return "none"
	}
	defer id.Drop()
	c, err := x509.ParseCertificate(id.ExportX509Chain()[0])
	if err != nil {
		return "unparsable"
	}
	return strconv.Quote(c.Subject.CommonName)
}

func optional(s string, ok bool) string {
	if !ok {
		return "none"
	}
	return s
}

func joinIDs(ids [][]byte) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func hexList(v []uint16) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%#04x", x)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "server-showcase: "+format+"\n", args...)
	os.Exit(1)
}
