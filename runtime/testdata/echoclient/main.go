// Command echoclient connects to the IPv4 address in its first argument,
// sends its second argument, prints what comes back, and exits.
package main

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

func main() {
	ap := netip.MustParseAddrPort(os.Args[1])
	net := w.Network()
	sock, code := w.CreateTCP4()
	if code != 0 {
		fail("create-tcp-socket: %d", code)
	}
	if code := w.StartConnect(sock, net, w.Addr{IP: ap.Addr().As4(), Port: ap.Port()}); code != 0 {
		fail("start-connect: %d", code)
	}
	p := w.TCPSubscribe(sock)
	var in, out uint32
	for {
		w.Poll([]uint32{p})
		in, out, code = w.FinishConnect(sock)
		if code != w.WouldBlock {
			break
		}
	}
	w.DropPollable(p)
	if code != 0 {
		fail("finish-connect: %d", code)
	}
	msg := []byte(os.Args[2])
	if err := w.BlockingWriteAndFlush(out, msg); err != nil {
		fail("write: %v", err)
	}
	var got []byte
	for len(got) < len(msg) {
		b, err := w.BlockingRead(in, 1024)
		if err != nil {
			fail("read: %v", err)
		}
		got = append(got, b...)
	}
	fmt.Printf("echo: %s\n", got)
	w.DropInput(in)
	w.DropOutput(out)
	w.DropTCP(sock)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
