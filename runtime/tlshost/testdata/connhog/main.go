//go:build wasip1

// Command connhog holds TLS connections that need no socket of their own,
// to push the host's bound on the TLS connections a guest holds:
//
//	connhog KIND N [PORT]
//
// prints "ready" and waits for a line on its standard input, then makes N
// connections of KIND and keeps every one, printing "held N"; it waits
// for a line, drops them all and prints "dropped", waits for another
// line, makes N again and prints "held N", then waits for its standard
// input to end. The kinds:
//
//	client  a client-connection over a handle on standard input and one
//	        on standard output (get-stdin and get-stdout hand out as many
//	        as asked; such streams cannot carry TLS)
//	server  a server-connection over such handles
//	draft   the draft's client-handshake over such handles
//	mixed   the three in turn
//	failed  a client-connection over a socket connected to
//	        localhost:PORT, whose handshake fails (the peer closes the
//	        connection at once); the guest then drops the socket and
//	        keeps the connection
//
// A constructor past the host's limit traps, ending the guest before it
// prints "held".
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsdraft"
)

//go:wasmimport wasi:cli/stdin@0.2.8 get-stdin
func getStdin() uint32

//go:wasmimport wasi:cli/stdout@0.2.8 get-stdout
func getStdout() uint32

func stdio() (io.InputStream, io.OutputStream) {
	return io.InputStream(getStdin()), io.OutputStream(getStdout())
}

func main() {
	kind := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	port := 0
	if len(os.Args) > 3 {
		port, _ = strconv.Atoi(os.Args[3])
	}
	stdin := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	stdin.Scan()
	var drops []func()
	fill := func() {
		for i := range n {
			k := kind
			if k == "mixed" {
				k = []string{"client", "server", "draft"}[i%3]
			}
			switch k {
			case "client":
				drops = append(drops, tls.NewClientConnection(stdio()).Drop)
			case "server":
				drops = append(drops, tls.NewServerConnection(stdio()).Drop)
			case "draft":
				in, out := stdio()
				drops = append(drops, tlsdraft.NewClientHandshake("localhost", in, out).Drop)
			case "failed":
				drops = append(drops, failed(uint16(port)))
			default:
				fmt.Println("unknown kind", kind)
				os.Exit(2)
			}
		}
		fmt.Printf("held %d\n", len(drops))
	}
	fill()
	stdin.Scan()
	for _, drop := range drops {
		drop()
	}
	drops = drops[:0]
	fmt.Println("dropped")
	stdin.Scan()
	fill()
	for stdin.Scan() {
	}
}

// failed makes a client connection over a socket to localhost:port whose
// handshake fails, drops the socket and returns the connection's Drop.
func failed(port uint16) func() {
	sock, in, out, err := wasinet.Dial("localhost", port)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	c := tls.NewClientConnection(in, out)
	hs, err := c.Connect("localhost")
	if err != nil {
		fmt.Println("connect:", err)
		os.Exit(1)
	}
	f := tls.ClientHandshakeFinish(hs)
	p := f.Subscribe()
	p.Block()
	p.Drop()
	if _, _, ready, err := f.Get(); !ready || err == nil {
		fmt.Println("handshake: want a failure, got", ready, err)
		os.Exit(1)
	}
	f.Drop()
	sock.Drop()
	return c.Drop
}
