//go:build wasip1

// Command draftclient is a guest written against the upstream draft
// (wasi:tls/types@0.2.0-draft) only, as guests built for other hosts are:
// client-handshake(server-name, input, output), finish, close-output.
//
//	draftclient HOST PORT
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/tlsdraft"
)

func main() {
	host := os.Args[1]
	port, _ := strconv.ParseUint(os.Args[2], 10, 16)
	sock, tcpIn, tcpOut, err := wasinet.Dial(host, uint16(port))
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	defer sock.Drop()
	hs := tlsdraft.NewClientHandshake(host, tcpIn, tcpOut)
	f := tlsdraft.ClientHandshakeFinish(hs)
	wasinet.Await(f.Subscribe())
	conn, in, out, _, err := f.Get()
	f.Drop()
	if err != nil {
		fmt.Println("handshake failed:", err)
		os.Exit(1)
	}
	out.BlockingWriteAndFlush([]byte("GET /draft HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"))
	conn.CloseOutput()
	resp, err := wasinet.ReadAll(in)
	fmt.Printf("%s", resp)
	if err != nil {
		fmt.Println("read:", err)
	}
	in.Drop()
	out.Drop()
	conn.Drop()
}
