// Command denied tries what its policy should refuse and prints the error
// codes: connect to its first argument, bind to its second, resolve its
// third, and bind a UDP socket to an ephemeral port (no UDP rule); then
// start (never finish) a connect from an IPv6 socket to each further
// argument.
package main

import (
	"fmt"
	"net/netip"
	"os"

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
	udp, _ := w.CreateUDP4()
	fmt.Printf("udp bind %d\n", w.UDPBind(udp, net, w.Addr{IP: [4]byte{127, 0, 0, 1}})-1)
	w.DropUDP(udp)
	for _, a := range os.Args[4:] {
		ap := netip.MustParseAddrPort(a)
		sock, _ := w.CreateTCP6()
		fmt.Printf("connect %v %d\n", ap, w.StartConnect6(sock, net, ap.Addr().As16(), ap.Port()))
		w.DropTCP(sock)
	}
}
