//go:build wasip1

// Command redial drops TLS handshakes stalled on a silent peer and dials
// again at once, the way a guest with a connect timeout retries:
//
//	redial MODE HOST PORT N
//
// N times it dials HOST:PORT (a server that never answers but for hook),
// starts a client handshake as MODE says, prints "started I" and waits
// for a line on its standard input (the test's peer has the ClientHello:
// the handshake waits for the peer), drops every resource of the
// connection and the socket, and dials again at once. It prints
// "redialed N" when every dial succeeded, or "dial I: ERR" for the first
// that failed (under a socket limit of 1, a socket the host still counts
// for the dropped connection). The modes:
//
//	verify  verify-server-identity's future looked at once (the handshake
//	        runs on a goroutine of the host, waiting for the peer)
//	finish  finish's future waited on for 20 ms beside a timer (the
//	        handshake runs on the guest's wait and pauses at its deadline)
//	draft   the draft's handshake, its future looked at once
//	hook    verify-server-identity's future waited for (PORT is a TLS
//	        server for HOST), then the handshake dropped while suspended
//	        there (the backend sends an alert) and the connection at once
//	tunnel  a connection to PORT, a TLS server for HOST, completed, then
//	        verify's handshake inside its cleartext (TLS tunnelled through
//	        TLS); the inner one dropped, then the outer; tunnel-finish and
//	        tunnel-draft the same with finish's and draft's
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/clocks"
	wio "github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsdraft"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Println("usage: redial MODE HOST PORT N")
		os.Exit(2)
	}
	mode, host := os.Args[1], os.Args[2]
	port, err := strconv.ParseUint(os.Args[3], 10, 16)
	must("port", err)
	n, err := strconv.Atoi(os.Args[4])
	must("N", err)
	start, ok := modes[mode]
	if !ok {
		fmt.Println("unknown mode", mode)
		os.Exit(2)
	}
	stdin := bufio.NewScanner(os.Stdin)
	for i := range n {
		sock, in, out, err := wasinet.Dial(host, uint16(port))
		if err != nil {
			fmt.Printf("dial %d: %v\n", i, err)
			return
		}
		drop := start(host, in, out)
		fmt.Printf("started %d\n", i)
		if !stdin.Scan() {
			fmt.Println("standard input ended")
			return
		}
		drop()
		sock.Drop()
	}
	fmt.Printf("redialed %d\n", n)
}

// modes start a handshake over in and out and return what drops every
// resource of the connection.
var modes = map[string]func(host string, in wio.InputStream, out wio.OutputStream) (drop func()){
	"verify": verify,
	"finish": func(host string, in wio.InputStream, out wio.OutputStream) func() {
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		f := tls.ClientHandshakeFinish(hs)
		p := f.Subscribe()
		timer := clocks.SubscribeDuration(clocks.Duration(20 * time.Millisecond))
		wio.Poll([]wio.Pollable{p, timer})
		timer.Drop()
		return func() {
			p.Drop()
			f.Drop()
			conn.Drop()
		}
	},
	"hook": func(host string, in wio.InputStream, out wio.OutputStream) func() {
		conn := tls.NewClientConnection(in, out)
		hs, err := conn.Connect(host)
		must("connect", err)
		f, err := hs.VerifyServerIdentity()
		must("verify-server-identity", err)
		wasinet.Await(f.Subscribe())
		return func() {
			f.Drop()
			hs.Drop()
			conn.Drop()
		}
	},
	"draft": func(host string, in wio.InputStream, out wio.OutputStream) func() {
		f := tlsdraft.ClientHandshakeFinish(tlsdraft.NewClientHandshake(host, in, out))
		p := f.Subscribe()
		p.Ready()
		return func() {
			p.Drop()
			f.Drop()
		}
	},
}

// verify starts a client handshake over in and out and looks at
// verify-server-identity's future once.
func verify(host string, in wio.InputStream, out wio.OutputStream) func() {
	conn := tls.NewClientConnection(in, out)
	hs, err := conn.Connect(host)
	must("connect", err)
	f, err := hs.VerifyServerIdentity()
	must("verify-server-identity", err)
	p := f.Subscribe()
	p.Ready()
	return func() {
		p.Drop()
		f.Drop()
		hs.Drop()
		conn.Drop()
	}
}

// tunnelOver starts, inside the cleartext of a TLS connection it
// completes over in and out, a handshake as inner does; the drop it
// returns drops the inner connection's resources, printing how long that
// took, then the outer's.
func tunnelOver(inner func(string, wio.InputStream, wio.OutputStream) func()) func(string, wio.InputStream, wio.OutputStream) func() {
	return func(host string, in wio.InputStream, out wio.OutputStream) func() {
		outer := tls.NewClientConnection(in, out)
		hs, err := outer.Connect(host)
		must("connect", err)
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		cin, cout, _, err := f.Get()
		must("finish", err)
		drop := inner(host, cin, cout)
		return func() {
			start := time.Now()
			drop()
			fmt.Printf("dropped in %v\n", time.Since(start))
			f.Drop()
			outer.Drop()
		}
	}
}

func init() {
	modes["tunnel"] = tunnelOver(verify)
	modes["tunnel-finish"] = tunnelOver(modes["finish"])
	modes["tunnel-draft"] = tunnelOver(modes["draft"])
}

func must(what string, err error) {
	if err != nil {
		fmt.Printf("%s: %v\n", what, err)
		os.Exit(1)
	}
}
