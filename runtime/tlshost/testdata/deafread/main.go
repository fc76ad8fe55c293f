//go:build wasip1

// Command deafread waits reading a TLS connection whose peer reads
// nothing:
//
//	deafread HOST PORT
//
// It dials HOST:PORT, makes a TLS client connection (server name
// "localhost"), writes a counting pattern within each permit check-write
// grants until it grants nothing (the peer reads nothing: its
// connection holds bytes unsent), prints "held back after N" (N bytes
// written), then reads with blocking-read until it fails, and prints
// "read ended after M bytes: ERROR (last error: REASON)". A failed write
// or check-write, or a read that ends without failing, prints what
// happened and exits with status 1.
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
	host := os.Args[1]
	p, _ := strconv.ParseUint(os.Args[2], 10, 16)
	sock, rawIn, rawOut, err := wasinet.Dial(host, uint16(p))
	if err != nil {
		fail("dial: %v", err)
	}
	conn := tls.NewClientConnection(rawIn, rawOut)
	hs, err := conn.Connect("localhost")
	if err != nil {
		fail("connect: %v", err)
	}
	f := tls.ClientHandshakeFinish(hs)
	wasinet.Await(f.Subscribe())
	in, out, ready, err := f.Get()
	f.Drop()
	if !ready || err != nil {
		reason, _ := tlsext.ClientLastError(conn)
		fail("handshake: %v (last error: %s)", err, reason)
	}
	written := 0
	chunk := make([]byte, 64<<10)
	for {
		n, err := out.CheckWrite()
		if err != nil {
			fail("check-write after %d bytes: %v", written, err)
		}
		if n == 0 {
			break
		}
		b := chunk[:min(n, uint64(len(chunk)))]
		for i := range b {
			b[i] = byte(written + i)
		}
		if err := out.Write(b); err != nil {
			fail("write %d, within a permit of %d: %v", written, n, err)
		}
		written += len(b)
		if written > 1<<30 {
			fail("check-write never held the writes back")
		}
	}
	fmt.Printf("held back after %d\n", written)
	read := 0
	for {
		b, err := in.BlockingRead(4096)
		if err != nil {
			reason, _ := tlsext.ClientLastError(conn)
			fmt.Printf("read ended after %d bytes: %v (last error: %s)\n", read, err, reason)
			break
		}
		read += len(b)
	}
	in.Drop()
	out.Drop()
	conn.Drop()
	sock.Drop()
}

func fail(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
	os.Exit(1)
}
