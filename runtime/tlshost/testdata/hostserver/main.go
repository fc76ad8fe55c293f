//go:build wasip1

// Command hostserver is the guest of the package's Example_server: a TLS
// server on package guest/tls whose identity the host holds (the host's
// tlshost.Config.Identities, by name). It listens on ADDR, prints
// "listening on" and the address it got, and answers each of N
// connections with a line naming the server name the client asked for.
//
//	hostserver ADDR IDENTITY N
package main

import (
	"fmt"
	"os"
	"strconv"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	id, err := wasitls.HostIdentity(os.Args[2])
	if err != nil {
		fail(err)
	}
	n, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fail(err)
	}
	ln, err := wasitls.Listen("tcp", os.Args[1], &wasitls.Config{Identities: []*wasitls.Identity{id}})
	if err != nil {
		fail(err)
	}
	defer ln.Close()
	fmt.Println("listening on", ln.Addr())
	for range n {
		c, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		tc := c.(*wasitls.Conn)
		if err := tc.Handshake(); err != nil {
			fmt.Fprintln(os.Stderr, "handshake:", err)
			tc.Close()
			continue
		}
		fmt.Fprintf(tc, "hello %s\n", tc.ConnectionState().ServerName)
		tc.Close()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "hostserver:", err)
	os.Exit(1)
}
