//go:build wasip1

// Command misuse breaks the proposal's rules on purpose, one way per run:
//
//	misuse MODE HOST PORT
//
// Rules the host reports as error results print a line and exit 0; using a
// handle that was consumed or dropped must trap the guest.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

func main() {
	mode, host := os.Args[1], os.Args[2]
	port, _ := strconv.ParseUint(os.Args[3], 10, 16)
	sock, tcpIn, tcpOut, err := wasinet.Dial(host, uint16(port))
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	defer sock.Drop()
	conn := tls.NewClientConnection(tcpIn, tcpOut)
	hs, err := conn.Connect(host)
	if err != nil {
		fmt.Println("connect:", err)
		os.Exit(1)
	}
	switch mode {
	case "connect-twice":
		_, err := conn.Connect(host)
		fmt.Println("second connect:", err)
	case "order":
		f, err := hs.ReceiveClientIdentityRequest()
		fmt.Println("receive-client-identity-request:", err)
		_, err = hs.VerifyServerIdentity()
		fmt.Println("verify-server-identity after it:", err)
		wasinet.Await(f.Subscribe())
		f.Drop()
		err = hs.ConfigureALPNIDs([][]byte{[]byte("h2")})
		fmt.Println("configure-alpn-ids after start:", err)
	case "configure-after-finish":
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		hs.ConfigureALPNIDs([][]byte{[]byte("h2")}) // traps: hs was consumed
	case "oversized":
		// ALPN IDs past what a ClientHello carries, and a server name past a
		// DNS name's length on a second connection: error results whose
		// reasons client-last-error reads.
		ids := make([][]byte, 300)
		for i := range ids {
			ids[i] = bytes.Repeat([]byte{'a'}, 255)
		}
		err := hs.ConfigureALPNIDs(ids)
		reason, _ := tlsext.ClientLastError(conn)
		fmt.Printf("configure-alpn-ids of 76,800 bytes: %v (%s)\n", err, reason)
		_, in2, out2, err := wasinet.Dial(host, uint16(port))
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(1)
		}
		conn2 := tls.NewClientConnection(in2, out2)
		_, err = conn2.Connect(strings.Repeat("a", 1<<20))
		reason, _ = tlsext.ClientLastError(conn2)
		fmt.Printf("connect with a name of 1 MiB: %v (%s)\n", err, reason)
	case "alpn-bound":
		// The most ALPN IDs a client may offer (49,152 bytes with their
		// length bytes, the last h2) make a ClientHello a server
		// reads whole; one byte more is refused when configured, with a
		// reason naming the bound.
		ids := func(n int) [][]byte {
			ids := make([][]byte, 191)
			for i := range ids {
				ids[i] = bytes.Repeat([]byte{'a'}, 255)
			}
			n -= 191*256 + len("\x02h2") + 1
			return append(ids, bytes.Repeat([]byte{'b'}, n), []byte("h2"))
		}
		err := hs.ConfigureALPNIDs(ids(49153))
		reason, _ := tlsext.ClientLastError(conn)
		fmt.Printf("configure-alpn-ids of 49,153 bytes: %v (%s)\n", err, reason)
		if err := hs.ConfigureALPNIDs(ids(49152)); err != nil {
			fmt.Println("configure-alpn-ids of 49,152 bytes:", err)
			os.Exit(1)
		}
		f := tls.ClientHandshakeFinish(hs)
		wasinet.Await(f.Subscribe())
		_, _, _, err = f.Get()
		alpn, _ := conn.ALPNID()
		fmt.Printf("handshake with 49,152 bytes of ALPN IDs: %v, ALPN %q\n", err, alpn)
		f.Drop()
	case "finish-twice":
		tls.ClientHandshakeFinish(hs)
		tls.ClientHandshakeFinish(hs) // traps
	case "use-after-drop":
		hs.Drop()
		hs.VerifyServerIdentity() // traps
	}
	fmt.Println("done")
}
