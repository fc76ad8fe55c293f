//go:build !wasip1

package sockets

import (
	"testing"

	"github.com/wasitls/wasitls/guest/wasi/internal/witabi"
)

func TestLayouts(t *testing.T) {
	r := witabi.Load(t)
	const network = "wasi:sockets/network@0.2.8"
	const tcp = "wasi:sockets/tcp@0.2.8"

	v4 := witabi.Type(t, r, network, "ipv4-socket-address")
	witabi.CheckLayout(t, ipv4SocketAddressMem{}, v4)
	off := witabi.FieldOffsets(t, v4)
	witabi.CheckOffset(t, ipv4SocketAddressMem{}, "Port", off[0])
	witabi.CheckOffset(t, ipv4SocketAddressMem{}, "Address", off[1])

	v6 := witabi.Type(t, r, network, "ipv6-socket-address")
	witabi.CheckLayout(t, ipv6SocketAddressMem{}, v6)
	off = witabi.FieldOffsets(t, v6)
	for i, f := range []string{"Port", "FlowInfo", "Address", "ScopeID"} {
		witabi.CheckOffset(t, ipv6SocketAddressMem{}, f, off[i])
	}

	sa := witabi.Type(t, r, network, "ip-socket-address")
	witabi.CheckLayout(t, ipSocketAddressMem{}, sa)
	witabi.CheckOffset(t, ipSocketAddressMem{}, "Payload", witabi.PayloadOffset(t, sa))
	witabi.CheckFits(t, ipSocketAddressMem{}, "Payload", v4)
	witabi.CheckFits(t, ipSocketAddressMem{}, "Payload", v6)

	ia := witabi.Type(t, r, network, "ip-address")
	witabi.CheckLayout(t, ipAddressMem{}, ia)
	witabi.CheckOffset(t, ipAddressMem{}, "Payload", witabi.PayloadOffset(t, ia))
	witabi.CheckFits(t, ipAddressMem{}, "Payload", witabi.Case(t, ia, 0))
	witabi.CheckLayout(t, ipAddressMem{}.Payload, witabi.Case(t, ia, 1))

	next := witabi.Result(t, r, "wasi:sockets/ip-name-lookup@0.2.8", "[method]resolve-address-stream.resolve-next-address")
	witabi.CheckLayout(t, resultOptionIPAddressMem{}, next)
	witabi.CheckOffset(t, resultOptionIPAddressMem{}, "Payload", witabi.PayloadOffset(t, next))
	opt := witabi.Case(t, next, 0)
	witabi.CheckLayout(t, optionIPAddressMem{}, opt)
	witabi.CheckOffset(t, optionIPAddressMem{}, "Payload", witabi.PayloadOffset(t, opt))

	for _, f := range []string{"[method]tcp-socket.local-address", "[method]tcp-socket.remote-address"} {
		res := witabi.Result(t, r, tcp, f)
		witabi.CheckLayout(t, resultIPSocketAddressMem{}, res)
		witabi.CheckOffset(t, resultIPSocketAddressMem{}, "Payload", witabi.PayloadOffset(t, res))
	}

	checks := []struct {
		v      any
		module string
		funcs  []string
	}{
		{resultUnitMem{}, tcp, []string{
			"[method]tcp-socket.start-bind", "[method]tcp-socket.finish-bind",
			"[method]tcp-socket.start-connect", "[method]tcp-socket.start-listen",
			"[method]tcp-socket.finish-listen", "[method]tcp-socket.set-listen-backlog-size",
			"[method]tcp-socket.keep-alive-enabled", "[method]tcp-socket.set-keep-alive-enabled",
			"[method]tcp-socket.set-keep-alive-idle-time", "[method]tcp-socket.set-keep-alive-interval",
			"[method]tcp-socket.set-keep-alive-count", "[method]tcp-socket.hop-limit",
			"[method]tcp-socket.set-hop-limit", "[method]tcp-socket.set-receive-buffer-size",
			"[method]tcp-socket.set-send-buffer-size", "[method]tcp-socket.shutdown",
		}},
		{resultU32Mem{}, tcp, []string{"[method]tcp-socket.keep-alive-count"}},
		{resultU32Mem{}, "wasi:sockets/tcp-create-socket@0.2.8", []string{"create-tcp-socket"}},
		{resultU32Mem{}, "wasi:sockets/ip-name-lookup@0.2.8", []string{"resolve-addresses"}},
		{resultU64Mem{}, tcp, []string{
			"[method]tcp-socket.keep-alive-idle-time", "[method]tcp-socket.keep-alive-interval",
			"[method]tcp-socket.receive-buffer-size", "[method]tcp-socket.send-buffer-size",
		}},
		{resultTuple2Mem{}, tcp, []string{"[method]tcp-socket.finish-connect"}},
		{resultTuple3Mem{}, tcp, []string{"[method]tcp-socket.accept"}},
		{optionErrorCodeMem{}, network, []string{"network-error-code"}},
	}
	for _, c := range checks {
		for _, f := range c.funcs {
			res := witabi.Result(t, r, c.module, f)
			witabi.CheckLayout(t, c.v, res)
			witabi.CheckOffset(t, c.v, fieldAfterTag(c.v), witabi.PayloadOffset(t, res))
		}
	}
}

func fieldAfterTag(v any) string {
	if _, ok := v.(optionErrorCodeMem); ok {
		return "Value"
	}
	return "Payload"
}
