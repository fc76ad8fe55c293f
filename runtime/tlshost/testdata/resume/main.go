//go:build wasip1

// Command resume is a test guest, built with package guest/tls, for
// session resumption (wasitls:tls/extensions@0.3.0):
//
//	resume client ADDR N [off|verify|names=NAME,...|as=ID,...]
//	    Connects to ADDR (server name "localhost", or with names= the
//	    names given in turn; ADDR may be a comma-separated list of
//	    addresses, dialled in turn) N times, one after another. Per connection it prints "conn I: resumed=BOOL
//	    version=0x.." (or "conn I: handshake failed: ERR"), writes
//	    "ping\n", reads one line and prints "conn I: read LINE", then
//	    closes. With off, every connection sets SessionTicketsDisabled;
//	    with verify, VerifyPeerCertificate (verify-server-identity) prints
//	    "verify: N certificates" each time it runs; with as=, connection
//	    I offers the client identity /certs/ID.{key,pem} of the I-th ID
//	    given (in turn), or none for the ID "none".
//
//	resume server N [off|off-at-hello|example|request]
//	    Listens on 127.0.0.1:0 (first line "listening on ADDR") with the
//	    identity /certs/localhost.{key,pem} (with example:
//	    /certs/example.{key,pem}) and serves N connections one
//	    after another: it prints "conn I: resumed=BOOL" (or "conn I:
//	    handshake failed: ERR"), reads one line, answers "hello LINE" and
//	    closes. With off, every connection sets SessionTicketsDisabled;
//	    with off-at-hello, GetConfigForClient returns a config that sets
//	    it, so that resumption is turned off at receive-client-hello;
//	    with request, every connection asks for a client certificate
//	    (accepting none) and the line reads "conn I: resumed=BOOL
//	    client=CN" (CN of the client's certificate, or none).
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	off := os.Args[len(os.Args)-1]
	switch os.Args[1] {
	case "client":
		if len(os.Args) < 4 {
			usage()
		}
		client(os.Args[2], count(os.Args[3]), off)
	case "server":
		server(count(os.Args[2]), off)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: resume client ADDR N [off|verify|names=NAME,...|as=ID,...] | resume server N [off|off-at-hello|example|request]")
	os.Exit(2)
}

func count(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		fail(fmt.Errorf("bad count %q", s))
	}
	return n
}

func client(addr string, n int, mode string) {
	cfg := &wasitls.Config{ServerName: "localhost", SessionTicketsDisabled: mode == "off"}
	if mode == "verify" {
		cfg.VerifyPeerCertificate = func(chain [][]byte) error {
			fmt.Printf("verify: %d certificates\n", len(chain))
			return nil
		}
	}
	names := []string{cfg.ServerName}
	if list, ok := strings.CutPrefix(mode, "names="); ok {
		names = strings.Split(list, ",")
	}
	addrs := strings.Split(addr, ",")
	var as []string
	if list, ok := strings.CutPrefix(mode, "as="); ok {
		as = strings.Split(list, ",")
	}
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		conf := *cfg
		conf.ServerName = names[i%len(names)]
		if len(as) > 0 && as[i%len(as)] != "none" {
			conf.Identities = []*wasitls.Identity{readIdentity(as[i%len(as)])}
		}
		c, err := wasitls.DialContext(ctx, "tcp", addrs[i%len(addrs)], &conf)
		if err != nil {
			fmt.Printf("conn %d: handshake failed: %v\n", i, err)
			cancel()
			continue
		}
		st := c.ConnectionState()
		fmt.Printf("conn %d: resumed=%v version=0x%04x\n", i, st.DidResume, st.Version)
		exchange(c, i, "ping\n")
		c.Close()
		cancel()
	}
}

// exchange writes msg and prints the line that comes back; the client
// reads the server's tickets on the way.
func exchange(c net.Conn, i int, msg string) {
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		fmt.Printf("conn %d: write: %v\n", i, err)
		return
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Printf("conn %d: read: %v\n", i, err)
		return
	}
	fmt.Printf("conn %d: read %s", i, line)
}

func server(n int, off string) {
	name := "localhost"
	if off == "example" {
		name = "example"
	}
	cfg := &wasitls.Config{Identities: []*wasitls.Identity{readIdentity(name)}, SessionTicketsDisabled: off == "off"}
	if off == "request" {
		cfg.ClientAuth = wasitls.RequestClientCert
	}
	if off == "off-at-hello" {
		cfg.GetConfigForClient = func(*wasitls.ClientHelloInfo) (*wasitls.Config, error) {
			return &wasitls.Config{Identities: cfg.Identities, SessionTicketsDisabled: true}, nil
		}
	}
	ln, err := wasitls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		fail(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	for i := range n {
		c, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		serve(c.(*wasitls.Conn), i, off == "request")
	}
}

// readIdentity parses /certs/NAME.key and /certs/NAME.pem.
func readIdentity(name string) *wasitls.Identity {
	key, err := os.ReadFile("/certs/" + name + ".key")
	if err != nil {
		fail(err)
	}
	chain, err := os.ReadFile("/certs/" + name + ".pem")
	if err != nil {
		fail(err)
	}
	id, err := wasitls.ParseIdentity(key, chain)
	if err != nil {
		fail(err)
	}
	return id
}

func serve(c *wasitls.Conn, i int, client bool) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		fmt.Printf("conn %d: handshake failed: %v\n", i, err)
		return
	}
	st := c.ConnectionState()
	if client {
		who := "none"
		if len(st.PeerCertificates) > 0 {
			who = st.PeerCertificates[0].Subject.CommonName
		}
		fmt.Printf("conn %d: resumed=%v client=%s\n", i, st.DidResume, who)
	} else {
		fmt.Printf("conn %d: resumed=%v\n", i, st.DidResume)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Printf("conn %d: read: %v\n", i, err)
		return
	}
	fmt.Fprintf(c, "hello %s", line)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "resume:", err)
	os.Exit(1)
}
