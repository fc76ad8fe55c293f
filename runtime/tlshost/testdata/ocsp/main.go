//go:build wasip1

// Command ocsp is a test guest, built with package guest/tls, for OCSP
// stapling (wasitls:tls/extensions@0.3.0):
//
//	ocsp client ADDR
//	    Connects to ADDR (server name "localhost") and prints "ocsp: none"
//	    or "ocsp: len=N sha256=HEX" for the response the server stapled,
//	    then writes "ping\n" and prints "read LINE" for the answer.
//
//	ocsp server NAME
//	    Listens on 127.0.0.1:0 (first line "listening on ADDR") with the
//	    identity the host holds under NAME (host-identity; the host
//	    attached the OCSP response to it), serves one connection: prints
//	    "handshake ok" (or "handshake failed: ERR"), reads one line and
//	    answers "hello LINE".
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ocsp client ADDR | ocsp server NAME")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	switch os.Args[1] {
	case "client":
		c, err := wasitls.DialContext(ctx, "tcp", os.Args[2], &wasitls.Config{ServerName: "localhost"})
		if err != nil {
			fail(err)
		}
		defer c.Close()
		if r := c.ConnectionState().OCSPResponse; r == nil {
			fmt.Println("ocsp: none")
		} else {
			fmt.Printf("ocsp: len=%d sha256=%x\n", len(r), sha256.Sum256(r))
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprint(c, "ping\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fail(err)
		}
		fmt.Printf("read %s", line)
	case "server":
		id, err := wasitls.HostIdentity(os.Args[2])
		if err != nil {
			fail(err)
		}
		ln, err := wasitls.Listen("tcp", "127.0.0.1:0", &wasitls.Config{Identities: []*wasitls.Identity{id}})
		if err != nil {
			fail(err)
		}
		fmt.Printf("listening on %s\n", ln.Addr())
		conn, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		c := conn.(*wasitls.Conn)
		defer c.Close()
		if err := c.HandshakeContext(ctx); err != nil {
			fmt.Printf("handshake failed: %v\n", err)
			return
		}
		fmt.Println("handshake ok")
		c.SetDeadline(time.Now().Add(20 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fail(err)
		}
		fmt.Fprintf(c, "hello %s", line)
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ocsp:", err)
	os.Exit(1)
}
