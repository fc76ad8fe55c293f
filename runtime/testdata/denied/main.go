// Command denied tries what its policy should refuse and prints the error
// codes: connect to its first argument, bind to its second, resolve its
// third, and create a UDP socket (not supported).
package main

import (
	"fmt"
	"net/netip"
	"os"
	"unsafe"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

func main() {
	net := w.Network()
	ap := netip.MustParseAddrPort(os.Args[1])
	sock, _ := w.CreateTCP4()
	fmt.Printf("connect %d\n", w.StartConnect(sock, net, w.Addr{IP: ap.Addr().As4(), Port: ap.Port()}))
	w.DropTCP(sock)
	ap = netip.MustParseAddrPort(os.Args[2])
	sock, _ = w.CreateTCP4()
	fmt.Printf("bind %d\n", w.StartBind(sock, net, w.Addr{IP: ap.Addr().As4(), Port: ap.Port()}))
	w.DropTCP(sock)
	_, code := w.Resolve(net, os.Args[3])
	fmt.Printf("resolve %d\n", code)
	createUDPSocket(0, unsafe.Pointer(&ret[0]))
	fmt.Printf("udp %d %d\n", ret[0]&0xff, ret[1])
}

//go:wasmimport wasi:sockets/udp-create-socket@0.2.8 create-udp-socket
func createUDPSocket(family uint32, ret unsafe.Pointer)

var ret [2]uint32
