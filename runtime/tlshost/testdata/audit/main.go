//go:build wasip1

// Command audit is a test guest, built with package guest/tls, for the
// coverage rows of docs/tls.md that need a guest server:
//
//	audit server CLIENT-AUTH N
//	    Listens on 127.0.0.1:0 (first line "listening on ADDR") with the
//	    identity /certs/localhost.{key,pem} and ClientAuth CLIENT-AUTH
//	    (none, request, require-any; or pha: none in the handshake, then
//	    post-handshake authentication), and serves N connections one
//	    after another. Per connection it prints either "handshake failed:
//	    ERR" or "handshake ok: version=0x.. suite=0x.. group=0x..
//	    client=CN" (CN "none" without a client certificate), then reads
//	    one line and answers "hello LINE". With pha, between reading and
//	    answering it requests a client certificate after the handshake
//	    and prints "post-handshake authentication: client=CN" or
//	    "post-handshake authentication: failed: ERR".
//
//	    With reject-hello, GetConfigForClient refuses every ClientHello,
//	    so the guest aborts at receive-client-hello.
//
//	audit client ADDR [reject-request]
//	    Dials ADDR (server name "localhost"), prints "handshake ok:
//	    version=0x..", writes "ping\n", then reads until an error and
//	    prints "read N bytes, then: ERR". With reject-request,
//	    GetClientCertificate refuses the server's certificate request, so
//	    the guest aborts at receive-client-identity-request, and prints
//	    "dial: ERR".
package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

var pha, rejectHello bool

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "client" {
		client(os.Args[2], len(os.Args) > 3 && os.Args[3] == "reject-request")
		return
	}
	if len(os.Args) != 4 || os.Args[1] != "server" {
		fmt.Fprintln(os.Stderr, "usage: audit server none|request|require-any|pha|reject-hello N | audit client ADDR [reject-request]")
		os.Exit(2)
	}
	var auth wasitls.ClientAuthType
	switch os.Args[2] {
	case "pha":
		pha = true
	case "reject-hello":
		rejectHello = true
	case "none":
		auth = wasitls.NoClientCert
	case "request":
		auth = wasitls.RequestClientCert
	case "require-any":
		auth = wasitls.RequireAnyClientCert
	default:
		fail(fmt.Errorf("unknown client auth %q", os.Args[2]))
	}
	n, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fail(err)
	}
	key, err := os.ReadFile("/certs/localhost.key")
	if err != nil {
		fail(err)
	}
	chain, err := os.ReadFile("/certs/localhost.pem")
	if err != nil {
		fail(err)
	}
	id, err := wasitls.ParseIdentity(key, chain)
	if err != nil {
		fail(err)
	}
	cfg := &wasitls.Config{
		Identities: []*wasitls.Identity{id},
		ClientAuth: auth,
	}
	if rejectHello {
		cfg.GetConfigForClient = func(*wasitls.ClientHelloInfo) (*wasitls.Config, error) {
			return nil, errors.New("refused by the test")
		}
	}
	ln, err := wasitls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		fail(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	for range n {
		c, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		serve(c.(*wasitls.Conn))
	}
}

func serve(c *wasitls.Conn) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		fmt.Printf("handshake failed: %v\n", err)
		return
	}
	st := c.ConnectionState()
	cn := "none"
	if len(st.PeerCertificates) > 0 {
		cn = st.PeerCertificates[0].Subject.CommonName
	}
	fmt.Printf("handshake ok: version=0x%04x suite=0x%04x group=0x%04x client=%s\n", st.Version, st.CipherSuite, st.CurveID, cn)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Printf("read failed: %v\n", err)
		return
	}
	if pha {
		chain, err := c.RequestClientCertificate(ctx)
		switch {
		case err != nil:
			fmt.Printf("post-handshake authentication: failed: %v\n", err)
		case chain == nil:
			fmt.Println("post-handshake authentication: client=none")
		default:
			cn := "?"
			if cert, err := x509.ParseCertificate(chain[0]); err == nil {
				cn = cert.Subject.CommonName
			}
			fmt.Printf("post-handshake authentication: client=%s\n", cn)
		}
	}
	fmt.Fprintf(c, "hello %s", line)
}

func client(addr string, rejectRequest bool) {
	cfg := &wasitls.Config{ServerName: "localhost"}
	if rejectRequest {
		cfg.GetClientCertificate = func(*wasitls.CertificateRequestInfo) ([]*wasitls.Identity, error) {
			return nil, errors.New("refused by the test")
		}
	}
	c, err := wasitls.Dial("tcp", addr, cfg)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		return
	}
	defer c.Close()
	fmt.Printf("handshake ok: version=0x%04x\n", c.ConnectionState().Version)
	if _, err := c.Write([]byte("ping\n")); err != nil {
		fail(err)
	}
	n, err := io.Copy(io.Discard, c)
	fmt.Printf("read %d bytes, then: %v\n", n, err)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "audit:", err)
	os.Exit(1)
}
