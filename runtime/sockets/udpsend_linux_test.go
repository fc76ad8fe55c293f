package sockets

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/sockets/udp"
	"github.com/wasitls/wasitls/cabi"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

// fillingPair is a connected pair of datagram sockets whose sender's
// buffer fills when its peer does not read: a socketpair(2) of AF_UNIX
// datagram sockets, which the kernel holds to its peer's receive queue.
// Loopback UDP never fills: the loopback device frees a datagram from its
// sender's buffer as it passes it on, and a full receiver drops it.
func fillingPair(t *testing.T) (send, peer *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
	syscall.SetsockoptInt(fds[1], syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	wrap := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FilePacketConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return wrap(fds[0]), wrap(fds[1])
}

// sendsTo makes u's sends go to c, a connected socket, as sendOne sends
// to a UDP socket: non-blocking sendto(2) on the socket's descriptor,
// through the same wait the stream's pollable makes.
func sendsTo(t *testing.T, u *UDPSocket, c *net.UnixConn) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	u.send.init(raw, c)
	u.sendAddr = func(netip.AddrPort) syscall.Sockaddr { return nil }
}

// watchers counts the goroutines waiting for a socket to be writable.
func watchers() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "sockets.(*sendReady).watch")
}

// TestUDPSendFullBuffer: a send to a socket whose send buffer is full
// returns the count of datagrams that went, at once, rather than waiting
// for room (for ever, if the peer never reads); check-send then grants
// nothing and the stream's pollable is not ready; a wait on it that ends
// leaves no goroutine behind and sends still work; once the peer reads,
// the pollable is ready and check-send grants again.
func TestUDPSendFullBuffer(t *testing.T) {
	ctx := context.Background()
	s := NewStack(udpPolicy(t, "127.0.0.1:9"))
	u := boundUDP(t, s)
	defer u.Drop()
	pair, err := u.Stream(ctx, cabi.Some(ToWIT(netip.MustParseAddrPort("127.0.0.1:9"))))
	if err != nil {
		t.Fatal(err)
	}
	in, out := pair.F0, pair.F1.(*OutgoingDatagramStream)
	defer in.Drop()
	defer out.Drop()
	sender, peer := fillingPair(t)
	sendsTo(t, u, sender)

	dgs := make([]udp.OutgoingDatagram, sendPermits)
	for i := range dgs {
		dgs[i] = udp.OutgoingDatagram{Data: make([]byte, 1000)}
	}
	// send returns at once: a bound on its wait (a send that waits for
	// room waits for ever here) tells a wait from a slow machine.
	send := func(n uint64) (uint64, error) {
		type result struct {
			n   uint64
			err error
		}
		done := make(chan result, 1)
		go func() {
			n, err := out.Send(ctx, dgs[:n])
			done <- result{n, err}
		}()
		select {
		case r := <-done:
			return r.n, r.err
		case <-time.After(10 * time.Second):
			t.Fatal("send waits for room in the socket's send buffer")
			return 0, nil
		}
	}
	sent, short := 0, false
	for range 1000 {
		permit, err := out.CheckSend(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if permit == 0 {
			break
		}
		n, err := send(permit)
		if err != nil {
			t.Fatalf("send after %d datagrams: %v", sent, err)
		}
		sent += int(n)
		if n < permit {
			short = true
		}
	}
	if !short {
		t.Fatalf("%d datagrams sent, none short, to a peer that reads nothing", sent)
	}
	if permit, err := out.CheckSend(ctx); permit != 0 || err != nil {
		t.Fatalf("check-send with the buffer full: %d, %v; want 0", permit, err)
	}
	if n, err := send(0); n != 0 || err != nil {
		t.Fatalf("empty send: %d, %v", n, err)
	}
	if out.Ready() {
		t.Fatal("the stream's pollable is ready with the buffer full")
	}
	t.Logf("%d datagrams of 1000 bytes sent before the buffer was full", sent)

	// A wait that ends (a deadline) stops the goroutine watching the
	// socket, and leaves no write deadline behind.
	base := watchers()
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := wasiio.Wait(wctx, []wasiio.Source{out, wasiio.NewSignal()}); err == nil {
		t.Fatal("the wait ended with nothing ready")
	}
	cancel()
	waitFor(t, "the end of the goroutine watching the socket", func() bool { return watchers() == base })

	// The peer reads: the wait ends, check-send grants, and a send goes.
	go func() {
		buf := make([]byte, 2000)
		for {
			if _, err := peer.Read(buf); err != nil {
				return
			}
		}
	}()
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := wasiio.Wait(wctx, []wasiio.Source{out, wasiio.NewSignal()}); err != nil {
		t.Fatalf("the stream's pollable never became ready once the peer read: %v", err)
	}
	if permit, err := out.CheckSend(ctx); permit != sendPermits || err != nil {
		t.Fatalf("check-send once the peer read: %d, %v", permit, err)
	}
	if n, err := send(1); n != 1 || err != nil {
		t.Fatalf("send once the peer read: %d, %v", n, err)
	}
	waitFor(t, "the end of the goroutine watching the socket", func() bool { return watchers() == base })
}
