//go:build wasip1

// Command misuse breaks the proposal's rules on purpose, one way per run:
//
//	misuse MODE HOST PORT
//
// Rules the host reports as error results print a line and exit 0; using a
// handle that was consumed or dropped must trap the guest.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/examples/wasinet"
	"github.com/wasitls/wasitls/guest/wasi/tls"
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
	case "finish-twice":
		tls.ClientHandshakeFinish(hs)
		tls.ClientHandshakeFinish(hs) // traps
	case "use-after-drop":
		hs.Drop()
		hs.VerifyServerIdentity() // traps
	}
	fmt.Println("done")
}
