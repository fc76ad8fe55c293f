//go:build wasip1

// Command peerchains makes TLS client handshakes that fail and keeps
// every failed connection, to see what the host holds for them:
//
//	peerchains HOST PORT WARM N
//
// makes WARM handshakes to HOST:PORT and prints "warm WARM", waits for a
// line on its standard input, makes N more and prints "held N"; each
// handshake must fail (its first error is printed as "failed: ERROR").
// It keeps every connection and finish future, and exits once its
// standard input ends.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

type held struct {
	conn tls.ClientConnection
	fut  tls.FutureStreams
}

var kept []held

func handshake(host string, port uint16, first bool) {
	_, in, out, err := wasinet.Dial(host, port)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		os.Exit(1)
	}
	conn := tls.NewClientConnection(in, out)
	hs, err := conn.Connect(host)
	if err != nil {
		fmt.Printf("connect: %v\n", err)
		os.Exit(1)
	}
	f := tls.ClientHandshakeFinish(hs)
	p := f.Subscribe()
	p.Block()
	p.Drop()
	_, _, ready, err := f.Get()
	if !ready || err == nil {
		fmt.Printf("handshake: ready %v, err %v; want a failure\n", ready, err)
		os.Exit(1)
	}
	if first {
		reason, _ := tlsext.ClientLastError(conn)
		fmt.Printf("failed: %v (last error: %s)\n", err, reason)
	}
	kept = append(kept, held{conn, f})
}

func main() {
	host := os.Args[1]
	p, _ := strconv.ParseUint(os.Args[2], 10, 16)
	warm, _ := strconv.Atoi(os.Args[3])
	n, _ := strconv.Atoi(os.Args[4])
	for i := range warm {
		handshake(host, uint16(p), i == 0)
	}
	fmt.Printf("warm %d\n", warm)
	stdin := bufio.NewScanner(os.Stdin)
	stdin.Scan()
	for range n {
		handshake(host, uint16(p), false)
	}
	fmt.Printf("held %d\n", n)
	for stdin.Scan() {
	}
}
