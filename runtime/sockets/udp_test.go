package sockets

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/sockets/network"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/udp"
	"github.com/wasitls/wasitls/cabi"
)

func udpPolicy(t *testing.T, rules ...string) *Policy {
	t.Helper()
	p := new(Policy)
	if err := p.AllowUDP(rules...); err != nil {
		t.Fatal(err)
	}
	return p
}

// hostUDP is a host's UDP socket bound to ip on a port of the kernel's,
// closed when the test ends.
func hostUDP(t *testing.T, ip net.IP) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendDatagram sends data to to on an unconnected stream of u, dropped
// after, and returns the send's error.
func sendDatagram(t *testing.T, u *UDPSocket, to netip.AddrPort, data string) error {
	t.Helper()
	ctx := context.Background()
	pair, err := u.Stream(ctx, cabi.None[network.IPSocketAddress]())
	if err != nil {
		t.Fatal(err)
	}
	defer pair.F0.Drop()
	defer pair.F1.Drop()
	pair.F1.CheckSend(ctx)
	_, err = pair.F1.Send(ctx, []udp.OutgoingDatagram{{Data: []byte(data), RemoteAddress: cabi.Some(ToWIT(to))}})
	return err
}

func boundUDP(t *testing.T, s *Stack) *UDPSocket {
	t.Helper()
	ctx := context.Background()
	u, err := s.NewUDPSocket(IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.StartBind(ctx, s.Network(), ToWIT(netip.MustParseAddrPort("127.0.0.1:0"))); err != nil {
		t.Fatal(err)
	}
	if err := u.FinishBind(ctx); err != nil {
		t.Fatal(err)
	}
	return u
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// TestUDPQueueAndRelease: received datagrams queue up to the bound, the
// rest wait in the kernel; dropping the socket and its streams closes it,
// frees its place under the socket limit and stops its reader.
func TestUDPQueueAndRelease(t *testing.T) {
	ctx := context.Background()
	peer := hostUDP(t, net.IPv4(127, 0, 0, 1))
	s := NewStack(udpPolicy(t, peer.LocalAddr().String()))
	s.SetUDPLimits(100, 3)
	s.SetSocketLimit(1)
	goroutines := runtime.NumGoroutine()
	u := boundUDP(t, s)
	if _, err := s.NewUDPSocket(IPv4); err != NewSocketLimit {
		t.Fatalf("a second socket past the limit: %v", err)
	}
	pair, err := u.Stream(ctx, cabi.None[network.IPSocketAddress]())
	if err != nil {
		t.Fatal(err)
	}
	in := pair.F0.(*IncomingDatagramStream)
	to := u.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := range 6 {
		size := 10
		if i == 0 {
			size = 101 // over the datagram limit: dropped
		}
		peer.WriteToUDPAddrPort(make([]byte, size), to)
	}
	waitFor(t, "a full queue", func() bool {
		u.mu.Lock()
		defer u.mu.Unlock()
		return len(u.queue) == 3
	})
	got, err := in.Receive(ctx, 10)
	if err != nil || len(got) != 3 || len(got[0].Data) != 10 {
		t.Fatalf("receive: %d datagrams, %v", len(got), err)
	}
	waitFor(t, "the last two", func() bool { return in.Ready() })
	var rest []udp.IncomingDatagram
	waitFor(t, "the last two", func() bool {
		more, _ := in.Receive(ctx, 10)
		rest = append(rest, more...)
		return len(rest) == 2
	})

	// send without check-send traps.
	func() {
		defer func() {
			if _, ok := recover().(*cabi.Trap); !ok {
				t.Fatal("send without check-send did not trap")
			}
		}()
		pair.F1.Send(ctx, []udp.OutgoingDatagram{{Data: []byte("x")}})
	}()

	u.Drop()
	if s.Sockets() != 1 {
		t.Fatalf("sockets = %d while the streams live", s.Sockets())
	}
	pair.F0.Drop()
	pair.F1.Drop()
	if s.Sockets() != 0 {
		t.Fatalf("sockets = %d after every drop", s.Sockets())
	}
	waitFor(t, "the reader to stop", func() bool { return runtime.NumGoroutine() <= goroutines })
}

func TestUDPPolicyRules(t *testing.T) {
	p := new(Policy)
	if err := p.AllowUDP("example.com:53"); err == nil {
		t.Fatal("a name in a UDP rule was accepted")
	}
	p = udpPolicy(t, "10.0.0.0/8:53", "[::1]:*")
	for _, c := range []struct {
		ap   string
		want bool
	}{
		{"10.1.2.3:53", true}, {"10.1.2.3:54", false}, {"11.0.0.1:53", false},
		{"[::1]:9", true}, {"[::ffff:10.0.0.1]:53", true},
	} {
		if got := p.CanUDP(netip.MustParseAddrPort(c.ap)); got != c.want {
			t.Errorf("CanUDP(%s) = %v", c.ap, got)
		}
	}
	if (*Policy)(nil).HasUDP() || new(Policy).HasUDP() || !p.HasUDP() {
		t.Error("HasUDP")
	}
}

// TestUDPIPv6Connected: two sockets on ::1 exchange datagrams; once one is
// connected to the other, datagrams from a third allowed peer are dropped.
func TestUDPIPv6Connected(t *testing.T) {
	ctx := context.Background()
	s := NewStack(udpPolicy(t, "[::1]:*"))
	bind := func() *UDPSocket {
		u, err := s.NewUDPSocket(IPv6)
		if err != nil {
			t.Fatal(err)
		}
		if err := u.StartBind(ctx, s.Network(), ToWIT(netip.MustParseAddrPort("[::1]:0"))); err != nil {
			t.Fatal(err)
		}
		if err := u.FinishBind(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(u.Drop)
		return u
	}
	a, b, c := bind(), bind(), bind()
	addr := func(u *UDPSocket) network.IPSocketAddress {
		la, err := u.LocalAddress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return la
	}
	streams := func(u *UDPSocket, to cabi.Option[network.IPSocketAddress]) (udp.IncomingDatagramStream, udp.OutgoingDatagramStream) {
		p, err := u.Stream(ctx, to)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.F0.Drop)
		t.Cleanup(p.F1.Drop)
		return p.F0, p.F1
	}
	send := func(out udp.OutgoingDatagramStream, msg string, to cabi.Option[network.IPSocketAddress]) {
		if _, err := out.CheckSend(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := out.Send(ctx, []udp.OutgoingDatagram{{Data: []byte(msg), RemoteAddress: to}}); n != 1 || err != nil {
			t.Fatalf("send %q: %d, %v", msg, n, err)
		}
	}
	aIn, _ := streams(a, cabi.Some(addr(b)))
	_, bOut := streams(b, cabi.None[network.IPSocketAddress]())
	_, cOut := streams(c, cabi.None[network.IPSocketAddress]())
	send(cOut, "from c", cabi.Some(addr(a)))
	send(bOut, "from b", cabi.Some(addr(a)))
	in := aIn.(*IncomingDatagramStream)
	waitFor(t, "b's datagram", in.Ready)
	got, err := in.Receive(ctx, 10)
	if err != nil || len(got) != 1 || string(got[0].Data) != "from b" || FromWIT(got[0].RemoteAddress) != FromWIT(addr(b)) {
		t.Fatalf("received %+v, %v", got, err)
	}
	if ra, err := a.RemoteAddress(ctx); err != nil || FromWIT(ra) != FromWIT(addr(b)) {
		t.Fatalf("remote-address %v, %v", ra, err)
	}
	if _, err := a.Stream(ctx, cabi.Some(ToWIT(netip.MustParseAddrPort("127.0.0.1:9")))); err != InvalidArgument {
		t.Fatalf("an IPv4 peer for an IPv6 socket: %v", err)
	}
}
