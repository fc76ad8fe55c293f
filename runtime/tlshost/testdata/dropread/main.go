//go:build wasip1

// Command dropread drops a TLS connection's cleartext input stream while
// the host reads it for a wait beside a timer, and keeps the connection:
//
//	dropread HOST PORT
//
// It dials HOST:PORT twice: the first socket ("sync", plain TCP) carries
// the peer's go-aheads, the second a TLS client connection (server name
// "localhost") whose peer stays silent. It waits on the cleartext input
// stream, the sync socket's input stream and a 20 ms timer, whose end
// leaves the host reading both connections for their streams; writes
// "polled" on the TLS connection; waits for a go-ahead; writes "got";
// waits for another (the peer checks the host still reads the TLS
// connection); drops the cleartext input stream (keeping the connection
// and its output stream); writes "dropped"; waits for a go-ahead; writes
// "still" and prints "ok".
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/clocks"
	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

func main() {
	host := os.Args[1]
	p, _ := strconv.ParseUint(os.Args[2], 10, 16)
	port := uint16(p)

	syncSock, syncIn, syncOut, err := wasinet.Dial(host, port)
	if err != nil {
		fail("dial sync: %v", err)
	}
	if err := syncOut.BlockingWriteAndFlush([]byte("sync\n")); err != nil {
		fail("sync: %v", err)
	}
	sock, rawIn, rawOut, err := wasinet.Dial(host, port)
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
	write := func(s string) {
		if err := out.BlockingWriteAndFlush([]byte(s)); err != nil {
			fail("write %q: %v", s, err)
		}
	}
	goAhead := func() {
		if _, err := syncIn.BlockingRead(1); err != nil {
			fail("go-ahead: %v", err)
		}
	}

	// Two streams and a timer: the host cannot wait for them on this
	// call, and reads both connections on goroutines.
	ps := in.Subscribe()
	pSync := syncIn.Subscribe()
	timer := clocks.SubscribeDuration(clocks.Duration(20 * time.Millisecond))
	if ready := io.Poll([]io.Pollable{ps, pSync, timer}); len(ready) != 1 || ready[0] != 2 {
		fail("poll: %v, want the timer alone", ready)
	}
	timer.Drop()
	pSync.Drop()
	ps.Drop()
	write("polled\n")
	goAhead()
	write("got\n")
	goAhead()

	in.Drop()
	write("dropped\n")
	goAhead()

	write("still\n")
	out.Drop()
	conn.Drop()
	sock.Drop()
	syncIn.Drop()
	syncOut.Drop()
	syncSock.Drop()
	fmt.Println("ok")
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
