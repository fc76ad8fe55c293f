// Command servername checks that a TLS connection's server name, verified
// or not, grants nothing on the network:
//
//	servername ADDR NAME
//
// It connects to ADDR (HOST:PORT, by address) and completes a client
// handshake with server name NAME, printing "handshake: ok", then looks
// NAME up and connects to NAME at ADDR's port, printing each outcome
// ("resolve: ...", "dial: ...").
package main

import (
	"context"
	"fmt"
	"net"
	"os"

	guestnet "github.com/wasitls/wasitls/guest/net"
	wasitls "github.com/wasitls/wasitls/guest/tls"
)

func main() {
	addr, name := os.Args[1], os.Args[2]
	c, err := wasitls.Dial("tcp", addr, &wasitls.Config{ServerName: name})
	if err != nil {
		fmt.Fprintln(os.Stderr, "servername:", err)
		os.Exit(1)
	}
	fmt.Println("handshake: ok")
	c.Close()

	_, err = guestnet.LookupHost(context.Background(), name)
	fmt.Printf("resolve: %v\n", err)
	_, port, _ := net.SplitHostPort(addr)
	if c, err := guestnet.Dial("tcp", net.JoinHostPort(name, port)); err != nil {
		fmt.Printf("dial: %v\n", err)
	} else {
		fmt.Println("dial: connected")
		c.Close()
	}
}
