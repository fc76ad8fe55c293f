//go:build wasip1

// Command tunnel makes TLS connections each inside the one before:
//
//	tunnel HOST PORT N
//
// dials HOST:PORT, makes a TLS client connection over the socket, then
// up to N-1 more, each over the cleartext streams of the one before
// (TLS tunnelled through TLS), keeping every one. It prints "tunnelled
// K: REASON" (K connections completed; REASON the last one's
// client-last-error, or "none"), then "holding", and waits for its
// standard input to end.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

func main() {
	host := os.Args[1]
	p, _ := strconv.ParseUint(os.Args[2], 10, 16)
	n, _ := strconv.Atoi(os.Args[3])
	_, in, out, err := wasinet.Dial(host, uint16(p))
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		os.Exit(1)
	}
	var conns []tls.ClientConnection
	var futs []tls.FutureStreams
	reason := "none"
	for len(conns) < n {
		conn := tls.NewClientConnection(in, out)
		conns = append(conns, conn)
		hs, err := conn.Connect(host)
		if err != nil {
			reason = err.Error()
			break
		}
		f := tls.ClientHandshakeFinish(hs)
		futs = append(futs, f)
		pl := f.Subscribe()
		pl.Block()
		pl.Drop()
		var ready bool
		var in2 io.InputStream
		var out2 io.OutputStream
		in2, out2, ready, err = f.Get()
		if !ready || err != nil {
			reason, _ = tlsext.ClientLastError(conn)
			conns = conns[:len(conns)-1]
			break
		}
		in, out = in2, out2
	}
	fmt.Printf("tunnelled %d: %s\n", len(conns), reason)
	fmt.Println("holding")
	for stdin := bufio.NewScanner(os.Stdin); stdin.Scan(); {
	}
}
