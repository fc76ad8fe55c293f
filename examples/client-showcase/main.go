//go:build wasip1

// Command client-showcase is the design text's client features showcase:
// ALPN h2, custom verification of the server certificate (in addition to
// the host's default validation), a client certificate sent when the server
// asks for one, every connection status accessor, and the negotiated
// key-exchange group from the wasitls extensions.
//
//	client-showcase HOST PORT KEY-FILE CERT-FILE
//
// Custom verification: when the environment variable PIN_SHA256 is set, the
// SHA-256 of the server's leaf certificate (hex) must equal it, or the
// handshake is aborted (the server receives an alert).
//
// When CONNECT_TO is set, the TCP connection goes to that host instead of
// HOST, while HOST stays the server name (as curl's --connect-to).
//
// After the handshake it speaks the negotiated protocol just enough to show
// it works: for h2 the connection preface and a SETTINGS frame, reporting
// the server's first frame; otherwise an HTTP/1.1 GET.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o bin/client-showcase.wasm ./examples/client-showcase
//
// go run ./cmd/wasitls demo runs it against server-showcase with a throwaway CA.
package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
	"github.com/wasitls/wasitls/tlsnames"
)

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: client-showcase HOST PORT KEY-FILE CERT-FILE")
		os.Exit(2)
	}
	host := os.Args[1]
	port, err := strconv.ParseUint(os.Args[2], 10, 16)
	if err != nil {
		fail("port: %v", err)
	}
	key, err := os.ReadFile(os.Args[3])
	if err != nil {
		fail("%v", err)
	}
	cert, err := os.ReadFile(os.Args[4])
	if err != nil {
		fail("%v", err)
	}
	clientCert, err := tls.ParsePrivateIdentity(key, [][]byte{cert})
	if err != nil {
		fail("the host could not parse the client identity")
	}
	clear(key)
	defer clientCert.Drop()

	dialHost := host
	if to := os.Getenv("CONNECT_TO"); to != "" {
		dialHost = to
	}
	sock, tcpIn, tcpOut, err := wasinet.Dial(dialHost, uint16(port))
	if err != nil {
		fail("%v", err)
	}
	defer sock.Drop()

	conn := tls.NewClientConnection(tcpIn, tcpOut)
	defer conn.Drop()
	handshake, err := conn.Connect(host)
	if err != nil {
		fail("connect: %v", err)
	}

	// Configure settings.
	if err := handshake.ConfigureALPNIDs([][]byte{[]byte("h2"), []byte("http/1.1")}); err != nil {
		fail("configure-alpn-ids: %v", err)
	}

	// Receive and validate the server certificate.
	verify, err := handshake.VerifyServerIdentity()
	if err != nil {
		fail("verify-server-identity: %v", err)
	}
	wasinet.Await(verify.Subscribe())
	serverCert, some, _, err := verify.Get()
	verify.Drop()
	if err != nil || !some {
		abort(handshake, "the server's certificate did not pass validation")
	}
	chain := serverCert.ExportX509Chain() // parsing is the guest's job
	serverCert.Drop()
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		abort(handshake, "cannot parse the server's certificate: "+err.Error())
	}
	fmt.Printf("server certificate: subject %q, issuer %q, names %v, chain of %d\n",
		leaf.Subject.CommonName, leaf.Issuer.CommonName, leaf.DNSNames, len(chain))
	// Custom logic, always in addition to the host's default validation.
	if pin := os.Getenv("PIN_SHA256"); pin != "" {
		sum := sha256.Sum256(chain[0])
		if got := hex.EncodeToString(sum[:]); got != pin {
			abort(handshake, "server certificate pin mismatch: "+got)
		}
		fmt.Println("server certificate pin: ok")
	}

	// Handle a client certificate request.
	requestFuture, err := handshake.ReceiveClientIdentityRequest()
	if err != nil {
		fail("receive-client-identity-request: %v", err)
	}
	wasinet.Await(requestFuture.Subscribe())
	request, some, _, err := requestFuture.Get()
	requestFuture.Drop()
	switch {
	case err != nil:
		abort(handshake, "the handshake failed before the certificate request")
	case some:
		fmt.Println("client certificate: requested by the server, responding")
		tls.ClientIdentityRequestRespond(request, []tls.PrivateIdentity{clientCert})
	default:
		fmt.Println("client certificate: not requested")
	}

	finish := tls.ClientHandshakeFinish(handshake)
	wasinet.Await(finish.Subscribe())
	in, out, _, err := finish.Get()
	finish.Drop()
	if err != nil {
		fail("tls handshake failed")
	}
	defer in.Drop()
	defer out.Drop()

	// Display the connection status.
	name, _ := conn.ServerName()
	fmt.Printf("server-name: %s\n", name)
	alpn, ok := conn.ALPNID()
	fmt.Printf("alpn-id: %s\n", optional(string(alpn), ok))
	if id, ok := conn.ClientIdentity(); ok {
		pub := id.PublicIdentity()
		c, _ := x509.ParseCertificate(pub.ExportX509Chain()[0])
		pub.Drop()
		id.Drop()
		fmt.Printf("client-identity: %q\n", c.Subject.CommonName)
	} else {
		fmt.Println("client-identity: none")
	}
	if id, ok := conn.ServerIdentity(); ok {
		c, _ := x509.ParseCertificate(id.ExportX509Chain()[0])
		id.Drop()
		fmt.Printf("server-identity: %q\n", c.Subject.CommonName)
	}
	v, _ := conn.ProtocolVersion()
	fmt.Printf("protocol-version: %s\n", tlsnames.Describe(tlsnames.Version, v))
	cs, _ := conn.CipherSuite()
	fmt.Printf("cipher-suite: %s\n", tlsnames.Describe(tlsnames.CipherSuite, cs))
	g, _ := tlsext.ClientNegotiatedGroup(conn)
	fmt.Printf("group: %s\n", tlsnames.Describe(tlsnames.Group, g))

	if ok && string(alpn) == "h2" {
		// HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113,
		// Section 3.4); the server answers with its own SETTINGS frame.
		preface := append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 4, 0, 0, 0, 0, 0)
		if err := out.BlockingWriteAndFlush(preface); err != nil {
			fail("write: %v", err)
		}
		frame, err := wasinet.ReadSome(in)
		if err != nil || len(frame) < 9 {
			fail("read: %v", err)
		}
		fmt.Printf("h2: server's first frame has type %d (4 is SETTINGS)\n", frame[3])
		return
	}
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	if err := out.BlockingWriteAndFlush([]byte(req)); err != nil {
		fail("write: %v", err)
	}
	resp, err := wasinet.ReadAll(in)
	os.Stdout.Write(resp)
	if err != nil {
		fail("read: %v", err)
	}
}

func optional(s string, ok bool) string {
	if !ok {
		return "none"
	}
	return s
}

// abort cancels the handshake, waits until the alert is out, and exits.
func abort(h tls.ClientHandshake, why string) {
	fmt.Fprintf(os.Stderr, "client-showcase: aborting the handshake: %s\n", why)
	wasinet.Await(tls.ClientHandshakeAbort(h))
	os.Exit(1)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "client-showcase: "+format+"\n", args...)
	os.Exit(1)
}
