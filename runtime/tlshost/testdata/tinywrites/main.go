//go:build wasip1

// Command tinywrites writes a TLS connection's cleartext, as much as each
// check-write permits, to a peer that reads nothing, until check-write
// grants nothing:
//
//	tinywrites HOST PORT [read]
//
// It dials HOST:PORT, makes a TLS client connection (server name
// "localhost"), and writes byte i of a counting pattern (i mod 256) until
// check-write grants nothing, a byte at a time (with read: a permit at a
// time); it prints "held back after N" (N bytes written). Then it waits
// with blocking-flush until the peer read them, and prints "ok"; with
// read, it reads with blocking-read until that fails instead, and prints
// "read ended after M bytes: ERROR". A failed write or check-write prints
// what failed and exits with status 1.
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
	read := len(os.Args) > 3 && os.Args[3] == "read"
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
		size := uint64(1)
		if read {
			size = min(n, uint64(len(chunk)))
		}
		for n >= size {
			b := chunk[:size]
			for i := range b {
				b[i] = byte(written + i)
			}
			if err := out.Write(b); err != nil {
				fail("write %d, within a permit of %d: %v", written, n, err)
			}
			written += len(b)
			n -= size
		}
		if written > 1<<30 {
			fail("check-write never held the writes back")
		}
	}
	fmt.Printf("held back after %d\n", written)
	if read {
		got := 0
		for {
			b, err := in.BlockingRead(4096)
			if err != nil {
				fmt.Printf("read ended after %d bytes: %v\n", got, err)
				break
			}
			got += len(b)
		}
	} else {
		if err := out.BlockingFlush(); err != nil {
			fail("blocking-flush: %v", err)
		}
		fmt.Println("ok")
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
