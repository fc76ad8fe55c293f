// Command listener binds 127.0.0.1 on an ephemeral port, prints
// "port N", and echoes every connection back, with one poll over the
// listener and all connections, until its first argument's number of
// connections have been served and closed.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

type conn struct {
	sock, in, out, pin uint32
	pending            []byte
}

func main() {
	want, _ := strconv.Atoi(os.Args[1])
	net := w.Network()
	ls, _ := w.CreateTCP4()
	must("bind", w.StartBind(ls, net, w.Addr{IP: [4]byte{127, 0, 0, 1}}))
	must("finish-bind", w.FinishBind(ls))
	must("listen", w.StartListen(ls))
	must("finish-listen", w.FinishListen(ls))
	port, code := w.LocalPort(ls)
	must("local-address", code)
	fmt.Printf("port %d\n", port)
	lp := w.TCPSubscribe(ls)

	var conns []*conn
	served := 0
	for served < want {
		list := []uint32{lp}
		for _, c := range conns {
			list = append(list, c.pin)
		}
		ready := w.Poll(list)
		for _, i := range ready {
			if i == 0 {
				for {
					s, in, out, code := w.Accept(ls)
					if code == w.WouldBlock {
						break
					}
					must("accept", code)
					conns = append(conns, &conn{sock: s, in: in, out: out, pin: w.InSubscribe(in)})
				}
				continue
			}
			c := conns[i-1]
			b, err := w.Read(c.in, 4096)
			if err != nil {
				// Closed by the client: done with this one.
				w.DropPollable(c.pin)
				w.DropInput(c.in)
				w.DropOutput(c.out)
				w.DropTCP(c.sock)
				c.sock = 0
				served++
				continue
			}
			if len(b) > 0 {
				if err := w.BlockingWriteAndFlush(c.out, b); err != nil {
					fmt.Fprintln(os.Stderr, "write:", err)
					os.Exit(1)
				}
			}
		}
		live := conns[:0]
		for _, c := range conns {
			if c.sock != 0 {
				live = append(live, c)
			}
		}
		conns = live
	}
	w.DropPollable(lp)
	w.DropTCP(ls)
	fmt.Println("served", served)
}

func must(what string, code uint32) {
	if code != 0 {
		fmt.Fprintf(os.Stderr, "%s: error code %d\n", what, code)
		os.Exit(1)
	}
}
