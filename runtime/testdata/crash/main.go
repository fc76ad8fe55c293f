// Command crash connects to its first argument, opens a listener, writes
// half a message and then, depending on its second argument, exits with
// code 3 ("exit"), traps on a bad handle ("trap") or panics ("panic"),
// leaving every resource open.
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
	if code := w.StartConnect(sock, net, w.Addr{IP: ap.Addr().As4(), Port: ap.Port()}); code != 0 {
		fmt.Fprintln(os.Stderr, "start-connect", code)
		os.Exit(1)
	}
	p := w.TCPSubscribe(sock)
	w.Block(p)
	in, out, code := w.FinishConnect(sock)
	if code != 0 {
		fmt.Fprintln(os.Stderr, "finish-connect", code)
		os.Exit(1)
	}
	w.BlockingWriteAndFlush(out, []byte("half a mess"))
	w.InSubscribe(in)
	w.OutSubscribe(out)
	ls, _ := w.CreateTCP4()
	w.StartBind(ls, net, w.Addr{IP: [4]byte{127, 0, 0, 1}})
	w.FinishBind(ls)
	w.StartListen(ls)
	w.FinishListen(ls)
	w.Read(in, 10) // starts the reader goroutine
	switch os.Args[2] {
	case "exit":
		os.Exit(3)
	case "trap":
		w.DropInput(999999)
	case "panic":
		panic("guest gave up")
	}
}
