package sockets

import (
	"context"
	"io"
	"math"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/wasitls/wasitls/bindings/wasi/sockets/tcp"
	"github.com/wasitls/wasitls/runtime/wasiio"
)

var bg = context.Background()

// wait waits for src to be ready. Its deadline only guards against a hang:
// what the tests wait for can take seconds on a loaded machine (a lookup
// of TestLookupAddrLimit's big answers, some 100 ms of work on a quiet
// one, took more than 5 s with 20 busy loops on 2 CPUs).
func wait(t *testing.T, src wasiio.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
	defer cancel()
	if _, err := wasiio.Wait(ctx, []wasiio.Source{src}); err != nil {
		t.Fatal(err)
	}
}

func TestConnectDeniedByDefault(t *testing.T) {
	st := NewStack(nil)
	s := mustSocket(t, st)
	defer s.Close()
	if err := s.StartConnect(bg, st.Network(), ToWIT(netip.MustParseAddrPort("127.0.0.1:1"))); err != AccessDenied {
		t.Fatalf("connect: %v, want access-denied", err)
	}
	if err := s.StartBind(bg, st.Network(), ToWIT(netip.MustParseAddrPort("127.0.0.1:0"))); err != AccessDenied {
		t.Fatalf("bind: %v, want access-denied", err)
	}
	if _, err := st.Resolve(st.Network(), "localhost"); err != AccessDenied {
		t.Fatalf("resolve: %v, want access-denied", err)
	}
}

func TestConnectEcho(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	var p Policy
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	if err := p.AllowConnect(ap.String()); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	s := mustSocket(t, st)
	if err := s.StartConnect(bg, st.Network(), ToWIT(netip.MustParseAddrPort("[::1]:1"))); err != InvalidArgument {
		t.Fatalf("wrong family: %v", err)
	}
	if err := s.StartConnect(bg, st.Network(), ToWIT(ap)); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	pair, err := s.FinishConnect(bg)
	if err != nil {
		t.Fatal(err)
	}
	in, out := pair.F0, pair.F1
	if ra, err := s.RemoteAddress(bg); err != nil || FromWIT(ra) != ap {
		t.Fatalf("remote address %v, %v", ra, err)
	}
	if err := out.BlockingWriteAndFlush(bg, []byte("echo")); err != nil {
		t.Fatal(err)
	}
	got, err := in.BlockingRead(bg, 10)
	if err != nil || string(got) != "echo" {
		t.Fatalf("read %q, %v", got, err)
	}
	// Dropping the socket keeps the streams' connection open.
	s.Close()
	if err := out.BlockingWriteAndFlush(bg, []byte("more")); err != nil {
		t.Fatal(err)
	}
	if got, err := in.BlockingRead(bg, 10); err != nil || string(got) != "more" {
		t.Fatalf("read after socket drop %q, %v", got, err)
	}
	out.Drop()
	in.Drop()
}

func TestListenAccept(t *testing.T) {
	var p Policy
	if err := p.AllowListen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	s := mustSocket(t, st)
	defer s.Close()
	if err := s.StartListen(bg); err != InvalidState {
		t.Fatalf("listen unbound: %v", err)
	}
	if err := s.FinishBind(bg); err != NotInProgress {
		t.Fatalf("finish-bind: %v", err)
	}
	listenLoopback(t, st, s)
	if _, err := s.Accept(bg); err != WouldBlock {
		t.Fatalf("accept with none pending: %v", err)
	}
	wla, err := s.LocalAddress(bg)
	la := FromWIT(wla)
	if err != nil || la.Port() == 0 {
		t.Fatalf("local address %v, %v", la, err)
	}
	c, err := net.Dial("tcp", la.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wait(t, s)
	tr, err := s.Accept(bg)
	if err != nil {
		t.Fatal(err)
	}
	a, in, out := tr.F0, tr.F1, tr.F2
	c.Write([]byte("hi"))
	if got, err := in.BlockingRead(bg, 10); err != nil || string(got) != "hi" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := a.Shutdown(bg, tcp.ShutdownTypeSend); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("peer read after shutdown: %d, %v", n, err)
	}
	a.Drop()
	in.Drop()
	out.Drop()

	// A second bind of the same port fails at finish-bind.
	s2 := mustSocket(t, st)
	defer s2.Close()
	p.AllowListen(la.String())
	if err := s2.StartBind(bg, st.Network(), ToWIT(la)); err != nil {
		t.Fatal(err)
	}
	if err := s2.FinishBind(bg); err != AddressInUse {
		t.Fatalf("second bind: %v, want address-in-use", err)
	}
}

func TestConnectRefused(t *testing.T) {
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	var p Policy
	p.AllowConnect("127.0.0.1:*")
	st := NewStack(&p)
	s := mustSocket(t, st)
	defer s.Close()
	if err := s.StartConnect(bg, st.Network(), ToWIT(ap)); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	if _, err := s.FinishConnect(bg); err != ConnectionRefused {
		t.Fatalf("finish-connect: %v, want connection-refused", err)
	}
}

func TestResolveLiteralAndGrant(t *testing.T) {
	var p Policy
	p.AllowConnect("localhost:7")
	st := NewStack(&p)
	r, err := st.Resolve(st.Network(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if a, ok, err := r.next(); err != nil || !ok || a != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("literal: %v %v %v", a, ok, err)
	}
	if _, ok, err := r.next(); ok || err != nil {
		t.Fatal("literal stream not finished")
	}
	r, err = st.Resolve(st.Network(), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, r.done)
	n := 0
	for {
		a, ok, err := r.next()
		if err != nil {
			t.Fatalf("localhost does not resolve: %v", err)
		}
		if !ok {
			break
		}
		n++
		if !st.canConnect(netip.AddrPortFrom(a, 7)) || st.canConnect(netip.AddrPortFrom(a, 8)) {
			t.Fatalf("grant for %v wrong", a)
		}
	}
	if n == 0 {
		t.Fatal("no address for localhost")
	}
}

// listenLoopback binds s to a free loopback port and listens on it.
func listenLoopback(t *testing.T, st *Stack, s *TCPSocket) {
	t.Helper()
	if err := s.StartBind(bg, st.Network(), ToWIT(netip.MustParseAddrPort("127.0.0.1:0"))); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishBind(bg); err != nil {
		t.Fatal(err)
	}
	if err := s.StartListen(bg); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishListen(bg); err != nil {
		t.Fatal(err)
	}
}

func mustSocket(t *testing.T, st *Stack) *TCPSocket {
	t.Helper()
	s, err := st.NewTCPSocket(IPv4)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// acceptingListener listens on a loopback port and accepts every
// connection, closing them once t ends.
func acceptingListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	return ln
}

func TestSocketLimit(t *testing.T) {
	ln := acceptingListener(t)
	var p Policy
	p.AllowConnect(ln.Addr().String())
	st := NewStack(&p)
	st.SetSocketLimit(2)
	a := mustSocket(t, st)
	b := mustSocket(t, st)
	if _, err := st.NewTCPSocket(IPv4); err != NewSocketLimit {
		t.Fatalf("third socket: %v, want new-socket-limit", err)
	}
	// A connected socket counts until its streams are gone too.
	if err := a.StartConnect(bg, st.Network(), ToWIT(ln.Addr().(*net.TCPAddr).AddrPort())); err != nil {
		t.Fatal(err)
	}
	wait(t, a)
	pair, err := a.FinishConnect(bg)
	if err != nil {
		t.Fatal(err)
	}
	a.Drop()
	b.Drop()
	if n := st.Sockets(); n != 1 {
		t.Fatalf("%d sockets alive, want 1 (the connection held by its streams)", n)
	}
	pair.F0.Drop()
	pair.F1.Drop()
	if n := st.Sockets(); n != 0 {
		t.Fatalf("%d sockets alive after every drop", n)
	}
}

// TestKeepAliveTimes: keep-alive times are whole seconds, at least one, and
// zero is refused, as the WIT says for set-keep-alive-idle-time and
// set-keep-alive-interval.
func TestKeepAliveTimes(t *testing.T) {
	s := mustSocket(t, NewStack(nil))
	ctx := context.Background()
	for _, tc := range []struct{ set, want uint64 }{
		{1, uint64(time.Second)},
		{uint64(2500 * time.Millisecond), uint64(2 * time.Second)},
		{math.MaxUint64, uint64(time.Duration(math.MaxInt64).Truncate(time.Second))},
	} {
		if err := s.SetKeepAliveIdleTime(ctx, tc.set); err != nil {
			t.Fatal(err)
		}
		if err := s.SetKeepAliveInterval(ctx, tc.set); err != nil {
			t.Fatal(err)
		}
		idle, _ := s.KeepAliveIdleTime(ctx)
		intv, _ := s.KeepAliveInterval(ctx)
		if idle != tc.want || intv != tc.want {
			t.Errorf("set %d: idle %d, interval %d; want %d", tc.set, idle, intv, tc.want)
		}
	}
	if s.SetKeepAliveIdleTime(ctx, 0) != InvalidArgument || s.SetKeepAliveInterval(ctx, 0) != InvalidArgument {
		t.Error("a zero keep-alive time was accepted")
	}
}

// TestConnectOnWait: start-connect leaves the dial to the guest's wait. A
// wait on the socket alone runs it on the waiting call; a wait with a
// deadline, pollable.ready or a second finish-connect start it on a
// goroutine, so a guest that never blocks still connects.
func TestConnectOnWait(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tl := ln.(*net.TCPListener)
	// accepted reports whether a connection arrives within d.
	accepted := func(d time.Duration) bool {
		tl.SetDeadline(time.Now().Add(d))
		c, err := tl.Accept()
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	var p Policy
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	if err := p.AllowConnect(ap.String()); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	start := func(t *testing.T) *TCPSocket {
		s := mustSocket(t, st)
		t.Cleanup(func() { s.Close() })
		if err := s.StartConnect(bg, st.Network(), ToWIT(ap)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishConnect(bg); err != WouldBlock {
			t.Fatalf("finish-connect: %v, want would-block", err)
		}
		if accepted(50 * time.Millisecond) {
			t.Fatal("the dial started before the guest waited for it")
		}
		return s
	}
	finished := func(t *testing.T, s *TCPSocket) {
		t.Helper()
		if !accepted(5 * time.Second) {
			t.Fatal("no connection arrived")
		}
		wait(t, s)
		if _, err := s.FinishConnect(bg); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("await", func(t *testing.T) {
		s := start(t)
		if !s.Await(bg, time.Time{}) {
			t.Fatal("Await did not run the dial")
		}
		if !s.Ready() {
			t.Fatal("not connected after Await")
		}
		finished(t, s)
	})
	t.Run("deadline", func(t *testing.T) {
		// Where a connect can be left in progress at the deadline
		// (rawConnect: Linux), a wait with a deadline connects on the
		// waiting call; elsewhere it starts the dial on a goroutine.
		s := start(t)
		ran := s.Await(bg, time.Now().Add(time.Second))
		if ran != (runtime.GOOS == "linux") {
			t.Fatalf("Await with a deadline ran the connect: %v, on %s", ran, runtime.GOOS)
		}
		if ran && !s.Ready() {
			t.Fatal("not connected after Await")
		}
		finished(t, s)
	})
	t.Run("ready", func(t *testing.T) {
		s := start(t)
		s.Subscribe(bg).Ready(bg)
		finished(t, s)
	})
	t.Run("finish-connect", func(t *testing.T) {
		s := start(t)
		s.FinishConnect(bg)
		finished(t, s)
	})
	t.Run("dropped", func(t *testing.T) {
		s := start(t)
		s.Close()
		if s.Await(bg, time.Time{}) {
			t.Fatal("Await dialed for a dropped socket")
		}
		if accepted(50 * time.Millisecond) {
			t.Fatal("a dropped socket connected")
		}
	})
}
