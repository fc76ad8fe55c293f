// Command dropinput connects twice to the IPv4 address in its first
// argument: the first connection ("sync") carries the peer's go-aheads, the
// second ("main") is what it tests. It waits on both input streams and a
// 20 ms timer, whose end leaves the host reading both sockets for their
// streams, writes "polled", waits for a go-ahead, writes "got", waits for
// another (the peer checks the host still reads the main socket), drops
// the main input
// stream (keeping the socket and its output stream), writes "dropped",
// waits for a go-ahead, then writes "still" and asks the socket its local
// port: both work. It prints "ok".
package main

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

//go:wasmimport wasi:clocks/monotonic-clock@0.2.8 subscribe-duration
func subscribeDuration(d uint64) uint32

func connect(ap netip.AddrPort) (sock, in, out uint32) {
	sock, code := w.CreateTCP4()
	if code != 0 {
		fail("create-tcp-socket: %d", code)
	}
	if code := w.StartConnect(sock, w.Network(), w.Addr{IP: ap.Addr().As4(), Port: ap.Port()}); code != 0 {
		fail("start-connect: %d", code)
	}
	p := w.TCPSubscribe(sock)
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
	return sock, in, out
}

func write(out uint32, s string) {
	if err := w.BlockingWriteAndFlush(out, []byte(s)); err != nil {
		fail("write %q: %v", s, err)
	}
}

func goAhead(in uint32) {
	if _, err := w.BlockingRead(in, 1); err != nil {
		fail("go-ahead: %v", err)
	}
}

func main() {
	ap := netip.MustParseAddrPort(os.Args[1])
	syncSock, syncIn, syncOut := connect(ap)
	write(syncOut, "sync\n")
	sock, in, out := connect(ap)
	write(out, "main\n")

	// Two sockets' streams and a timer: the host cannot wait for them on
	// this call, and reads both sockets on goroutines.
	p := w.InSubscribe(in)
	ps := w.InSubscribe(syncIn)
	timer := subscribeDuration(uint64(20 * time.Millisecond))
	if ready := w.Poll([]uint32{p, ps, timer}); len(ready) != 1 || ready[0] != 2 {
		fail("poll: %v, want the timer alone", ready)
	}
	w.DropPollable(timer)
	w.DropPollable(ps)
	w.DropPollable(p)
	write(out, "polled\n")
	goAhead(syncIn)
	write(out, "got\n")
	goAhead(syncIn)

	w.DropInput(in)
	write(out, "dropped\n")
	goAhead(syncIn)

	write(out, "still\n")
	if _, code := w.LocalPort(sock); code != 0 {
		fail("local-address after the drop: %d", code)
	}
	w.DropOutput(out)
	w.DropTCP(sock)
	w.DropInput(syncIn)
	w.DropOutput(syncOut)
	w.DropTCP(syncSock)
	fmt.Println("ok")
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
