//go:build wasip1

// Command client-minimal is the design text's minimal client: connect over
// TCP, wrap the streams in a TLS client connection, finish the handshake
// with secure defaults, send one HTTP request and print the response.
//
//	client-minimal HOST PORT [PATH]
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o bin/client-minimal.wasm ./examples/client-minimal
// Run:   wasitls run --allow-connect example.com:443 bin/client-minimal.wasm example.com 443
//
// README.md ("Run your own guest") also runs it against server-minimal on
// loopback.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: client-minimal HOST PORT [PATH]")
		os.Exit(2)
	}
	host, path := os.Args[1], "/"
	port, err := strconv.ParseUint(os.Args[2], 10, 16)
	if err != nil {
		fail("port: %v", err)
	}
	if len(os.Args) > 3 {
		path = os.Args[3]
	}

	// TCP setup.
	sock, tcpIn, tcpOut, err := wasinet.Dial(host, uint16(port))
	if err != nil {
		fail("%v", err)
	}
	defer sock.Drop()

	// TLS setup: the connection takes the TCP streams; connect(host).finish().
	conn := tls.NewClientConnection(tcpIn, tcpOut)
	defer conn.Drop()
	handshake, err := conn.Connect(host)
	if err != nil {
		reason, _ := tlsext.ClientLastError(conn)
		fail("connect: %s", reason)
	}
	future := tls.ClientHandshakeFinish(handshake)
	wasinet.Await(future.Subscribe())
	in, out, _, err := future.Get()
	future.Drop()
	if err != nil {
		// The proposal's futures carry no reason; the extensions do.
		reason, _ := tlsext.ClientLastError(conn)
		fail("tls handshake with %s failed: %s", host, reason)
	}
	defer in.Drop()
	defer out.Drop()

	// Usage.
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	if err := out.BlockingWriteAndFlush([]byte(req)); err != nil {
		fail("write: %v", err)
	}
	resp, err := wasinet.ReadAll(in)
	os.Stdout.Write(resp)
	if err != nil {
		fail("read: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "client-minimal: "+format+"\n", args...)
	os.Exit(1)
}
