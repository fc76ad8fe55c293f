// Command udpecho exchanges datagrams with the echo peer of its first
// argument (IPv4 ADDR:PORT) through wasi:sockets/udp: unconnected streams
// with an address per datagram, then streams connected to the peer. It also
// tries what its policy or limits refuse. It prints one line per step.
package main

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/wasitls/wasitls/runtime/testdata/internal/w"
)

func say(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// codes are wasi:sockets/network's error-code cases, in WIT order.
var codes = strings.Fields(`unknown access-denied not-supported invalid-argument out-of-memory timeout
concurrency-conflict not-in-progress would-block invalid-state new-socket-limit address-not-bindable
address-in-use remote-unreachable connection-refused connection-reset connection-aborted
datagram-too-large name-unresolvable temporary-resolver-failure permanent-resolver-failure`)

func res(c uint32) string {
	if c == 0 {
		return "ok"
	}
	return codes[c-1]
}

// echo sends msg and waits for one datagram.
func echo(in, out uint32, msg string, to *w.Addr) {
	if _, c := w.CheckSend(out); c != 0 {
		say("check-send: %s", res(c))
		return
	}
	n, c := w.Send(out, []byte(msg), to)
	say("send %q: %s %d", msg, res(c), n)
	p := w.InSubscribeUDP(in)
	w.Block(p)
	w.DropPollable(p)
	dgs, c := w.Receive(in, 10)
	for _, d := range dgs {
		say("received %q from %v:%d", d.Data, netip.AddrFrom4(d.Peer.IP), d.Peer.Port)
	}
	if c != 0 || len(dgs) == 0 {
		say("receive: %s %d", res(c), len(dgs))
	}
}

func main() {
	ap := netip.MustParseAddrPort(os.Args[1])
	peer := w.Addr{IP: ap.Addr().As4(), Port: ap.Port()}
	net := w.Network()

	sock, c := w.CreateUDP4()
	say("create: %s", res(c))
	say("bind a fixed port: %s", res(w.UDPBind(sock, net, w.Addr{IP: [4]byte{127, 0, 0, 1}, Port: 9})))
	c = w.UDPBind(sock, net, w.Addr{IP: [4]byte{127, 0, 0, 1}})
	say("bind an ephemeral port: %s", res(c))
	if c != 0 {
		_, _, c = w.UDPStream(sock, nil)
		say("stream: %s", res(c))
		w.DropUDP(sock)
		return
	}
	say("bind again: %s", res(w.UDPBind(sock, net, w.Addr{IP: [4]byte{127, 0, 0, 1}})))
	say("local port set: %v", w.UDPLocalPort(sock) != 0)

	in, out, c := w.UDPStream(sock, nil)
	say("stream: %s", res(c))
	echo(in, out, "ping 1", &peer)
	_, c = w.Send(out, []byte("no address"), nil)
	say("send without an address: %s", res(c))
	_, c = w.Send(out, []byte("denied"), &w.Addr{IP: peer.IP, Port: peer.Port + 1})
	say("send to a peer the policy denies: %s", res(c))
	_, c = w.Send(out, make([]byte, 2000), &peer)
	say("send 2000 bytes: %s", res(c))
	_, c = w.Send(out, make([]byte, 65508), &peer)
	say("send 65508 bytes: %s", res(c))

	_, _, c = w.UDPStream(sock, &w.Addr{IP: peer.IP, Port: peer.Port + 1})
	say("stream to a peer the policy denies: %s", res(c))
	in2, out2, c := w.UDPStream(sock, &peer)
	say("stream to the peer: %s", res(c))
	_, c = w.CheckSend(out)
	say("the previous streams: %s", res(c))
	w.DropIncoming(in)
	w.DropOutgoing(out)
	echo(in2, out2, "ping 2", nil)
	_, c = w.Send(out2, []byte("elsewhere"), &w.Addr{IP: [4]byte{127, 0, 0, 2}, Port: peer.Port})
	say("send elsewhere when connected: %s", res(c))
	w.DropIncoming(in2)
	w.DropOutgoing(out2)
	w.DropUDP(sock)
}
