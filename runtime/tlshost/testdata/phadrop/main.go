//go:build wasip1

// Command phadrop drops a TLS server connection's cleartext input stream
// while the host reads it for the guest and a post-handshake
// authentication is in flight, and then waits for the authentication:
//
//	phadrop KEY CERT SYNCADDR
//
// It dials SYNCADDR ("sync", plain TCP: the peer's go-aheads), listens on
// a free loopback port and prints "listening on 127.0.0.1:PORT", accepts
// one TLS connection (identity KEY and CERT) and requests the client's
// identity after the handshake. It waits on the cleartext input stream,
// the sync socket's input stream and a 20 ms timer (the client reads
// nothing yet: the request is unanswered), writes "polled" on sync, waits
// for a go-ahead, drops the input stream, writes "dropped", and waits for
// the authentication, which the client answers once it reads. It writes
// "authenticated CN" (the client's common name) on the TLS connection and
// prints "ok".
package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/clocks"
	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

func main() {
	key, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	cert, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	id, err := tls.ParsePrivateIdentity(key, [][]byte{cert})
	if err != nil {
		fail("identity: %v", err)
	}
	syncSock, syncIn, syncOut, err := dial(os.Args[3])
	if err != nil {
		fail("dial sync: %v", err)
	}
	say := func(s string) {
		if err := syncOut.BlockingWriteAndFlush([]byte(s + "\n")); err != nil {
			fail("sync %q: %v", s, err)
		}
	}
	goAhead := func() {
		if _, err := syncIn.BlockingRead(1); err != nil {
			fail("go-ahead: %v", err)
		}
	}
	say("sync")

	ln, bound, err := wasinet.Listen("127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Printf("listening on %v\n", bound)
	sock, rawIn, rawOut, err := wasinet.Accept(ln)
	if err != nil {
		fail("accept: %v", err)
	}
	conn := tls.NewServerConnection(rawIn, rawOut)
	hs, err := conn.Accept()
	if err != nil {
		fail("tls accept: %v", err)
	}
	if err := hs.ConfigureServerIdentities([]tls.PrivateIdentity{id}); err != nil {
		fail("configure-server-identities: %v", err)
	}
	f := tls.ServerHandshakeFinish(hs)
	wasinet.Await(f.Subscribe())
	in, out, ready, err := f.Get()
	f.Drop()
	if !ready || err != nil {
		reason, _ := tlsext.ServerLastError(conn)
		fail("handshake: %v (last error: %s)", err, reason)
	}
	auth, err := conn.RequestClientIdentity()
	if err != nil {
		reason, _ := tlsext.ServerLastError(conn)
		fail("request-client-identity: %v (%s)", err, reason)
	}

	// Two streams and a timer: the host reads both connections on
	// goroutines for the wait.
	ps := in.Subscribe()
	pSync := syncIn.Subscribe()
	timer := clocks.SubscribeDuration(clocks.Duration(20 * time.Millisecond))
	if ready := io.Poll([]io.Pollable{ps, pSync, timer}); len(ready) != 1 || ready[0] != 2 {
		fail("poll: %v, want the timer alone", ready)
	}
	timer.Drop()
	pSync.Drop()
	ps.Drop()
	say("polled")
	goAhead()

	in.Drop()
	say("dropped")

	wasinet.Await(auth.Subscribe())
	peer, some, _, err := auth.Get()
	auth.Drop()
	if err != nil || !some {
		reason, _ := tlsext.ServerLastError(conn)
		fail("post-handshake authentication: %v, some %v (%s)", err, some, reason)
	}
	c, err := x509.ParseCertificate(peer.ExportX509Chain()[0])
	peer.Drop()
	if err != nil {
		fail("client certificate: %v", err)
	}
	if err := out.BlockingWriteAndFlush([]byte("authenticated " + c.Subject.CommonName + "\n")); err != nil {
		fail("write: %v", err)
	}
	out.Drop()
	conn.Drop()
	sock.Drop()
	ln.Drop()
	syncIn.Drop()
	syncOut.Drop()
	syncSock.Drop()
	fmt.Println("ok")
}

func dial(addr string) (sock interface{ Drop() }, in io.InputStream, out io.OutputStream, err error) {
	var host string
	var port uint16
	if _, err := fmt.Sscanf(addr, "127.0.0.1:%d", &port); err != nil {
		return nil, 0, 0, fmt.Errorf("address %q: %v", addr, err)
	}
	host = "127.0.0.1"
	s, in, out, err := wasinet.Dial(host, port)
	return s, in, out, err
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
