//go:build wasip1

// Command pending opens TLS client handshakes to a server that never
// answers and keeps every one pending:
//
//	pending MODE HOST PORT N
//
// MODE "connect" only creates each handshake (connect); "finish" also
// starts it (finish sends the ClientHello). When connect fails it prints
// "connect I: ERROR (last error: REASON)", drops the first pending
// handshake's connection and connects once more, printing "after drop: ok"
// or the error. Otherwise it prints "pending N".
//
//	pending serve N
//
// listens on a free loopback port, prints "listening on 127.0.0.1:PORT",
// and for each of up to N TCP connections creates a server handshake
// (accept) that it never finishes; when accept fails it prints "accept I:
// ERROR (last error: REASON)", drops the first one and accepts once more.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/sockets"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

// held is one pending handshake: its connection and, until finish, the
// handshake, or after it the future.
type held struct {
	conn tls.ClientConnection
	hs   *tls.ClientHandshake
	fut  *tls.FutureStreams
}

func (h held) drop() {
	if h.hs != nil {
		h.hs.Drop()
	}
	if h.fut != nil {
		h.fut.Drop()
	}
	h.conn.Drop()
}

func connect(host string, port uint16) (tls.ClientConnection, tls.ClientHandshake, error) {
	_, in, out, err := wasinet.Dial(host, port)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		os.Exit(1)
	}
	conn := tls.NewClientConnection(in, out)
	hs, err := conn.Connect(host)
	if err != nil {
		reason, _ := tlsext.ClientLastError(conn)
		conn.Drop()
		return conn, hs, fmt.Errorf("%v (last error: %s)", err, reason)
	}
	return conn, hs, nil
}

// accept takes the next TCP connection and creates its server handshake.
func accept(ln sockets.TCPSocket) (tls.ServerConnection, tls.ServerHandshake, error) {
	_, in, out, err := wasinet.Accept(ln)
	if err != nil {
		fmt.Printf("tcp accept: %v\n", err)
		os.Exit(1)
	}
	conn := tls.NewServerConnection(in, out)
	hs, err := conn.Accept()
	if err != nil {
		reason, _ := tlsext.ServerLastError(conn)
		conn.Drop()
		return conn, hs, fmt.Errorf("%v (last error: %s)", err, reason)
	}
	return conn, hs, nil
}

func serve(n int) {
	ln, bound, err := wasinet.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Printf("listen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", bound)
	type served struct {
		conn tls.ServerConnection
		hs   tls.ServerHandshake
	}
	var pending []served
	for i := 1; i <= n; i++ {
		conn, hs, err := accept(ln)
		if err != nil {
			fmt.Printf("accept %d: %v\n", i, err)
			pending[0].hs.Drop()
			pending[0].conn.Drop()
			if _, _, err := accept(ln); err != nil {
				fmt.Printf("after drop: %v\n", err)
			} else {
				fmt.Println("after drop: ok")
			}
			return
		}
		pending = append(pending, served{conn, hs})
	}
	fmt.Printf("pending %d\n", n)
}

func main() {
	if os.Args[1] == "serve" {
		n, _ := strconv.Atoi(os.Args[2])
		serve(n)
		return
	}
	mode, host := os.Args[1], os.Args[2]
	p, _ := strconv.ParseUint(os.Args[3], 10, 16)
	port := uint16(p)
	n, _ := strconv.Atoi(os.Args[4])
	var pending []held
	for i := 1; i <= n; i++ {
		conn, hs, err := connect(host, port)
		if err != nil {
			fmt.Printf("connect %d: %v\n", i, err)
			// Dropping one pending handshake makes room for another.
			pending[0].drop()
			if _, _, err := connect(host, port); err != nil {
				fmt.Printf("after drop: %v\n", err)
			} else {
				fmt.Println("after drop: ok")
			}
			return
		}
		h := held{conn: conn}
		if mode == "finish" {
			f := tls.ClientHandshakeFinish(hs)
			h.fut = &f
		} else {
			h.hs = &hs
		}
		pending = append(pending, h)
	}
	fmt.Printf("pending %d\n", n)
}
