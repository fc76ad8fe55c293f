package sockets

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wasitls/wasitls/runtime/wasiio"
)

func wait(t *testing.T, src wasiio.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := wasiio.Wait(ctx, []wasiio.Source{src}); err != nil {
		t.Fatal(err)
	}
}

func TestConnectDeniedByDefault(t *testing.T) {
	st := NewStack(nil)
	s := st.NewTCPSocket(IPv4)
	defer s.Close()
	if err := s.StartConnect(st.Network(), netip.MustParseAddrPort("127.0.0.1:1")); err != AccessDenied {
		t.Fatalf("connect: %v, want access-denied", err)
	}
	if err := s.StartBind(st.Network(), netip.MustParseAddrPort("127.0.0.1:0")); err != AccessDenied {
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
	s := st.NewTCPSocket(IPv4)
	if err := s.StartConnect(st.Network(), netip.MustParseAddrPort("[::1]:1")); err != InvalidArgument {
		t.Fatalf("wrong family: %v", err)
	}
	if err := s.StartConnect(st.Network(), ap); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	in, out, err := s.FinishConnect()
	if err != nil {
		t.Fatal(err)
	}
	if ra, err := s.RemoteAddress(); err != nil || ra != ap {
		t.Fatalf("remote address %v, %v", ra, err)
	}
	if err := out.BlockingWriteAndFlush(context.Background(), []byte("echo")); err != nil {
		t.Fatal(err)
	}
	got, err := in.BlockingRead(context.Background(), 10)
	if err != nil || string(got) != "echo" {
		t.Fatalf("read %q, %v", got, err)
	}
	// Dropping the socket keeps the streams' connection open.
	s.Close()
	if err := out.BlockingWriteAndFlush(context.Background(), []byte("more")); err != nil {
		t.Fatal(err)
	}
	if got, err := in.BlockingRead(context.Background(), 10); err != nil || string(got) != "more" {
		t.Fatalf("read after socket drop %q, %v", got, err)
	}
	out.Close()
	in.Close()
}

func TestListenAccept(t *testing.T) {
	var p Policy
	if err := p.AllowListen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	st := NewStack(&p)
	s := st.NewTCPSocket(IPv4)
	defer s.Close()
	if err := s.StartListen(); err != InvalidState {
		t.Fatalf("listen unbound: %v", err)
	}
	if err := s.FinishBind(); err != NotInProgress {
		t.Fatalf("finish-bind: %v", err)
	}
	if err := s.StartBind(st.Network(), netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishBind(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartListen(); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishListen(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.Accept(); err != WouldBlock {
		t.Fatalf("accept with none pending: %v", err)
	}
	la, err := s.LocalAddress()
	if err != nil || la.Port() == 0 {
		t.Fatalf("local address %v, %v", la, err)
	}
	c, err := net.Dial("tcp", la.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wait(t, s)
	a, in, out, err := s.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hi"))
	if got, err := in.BlockingRead(context.Background(), 10); err != nil || string(got) != "hi" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := a.Shutdown(ShutdownSend); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("peer read after shutdown: %d, %v", n, err)
	}
	a.Close()
	in.Close()
	out.Close()

	// A second bind of the same port fails at finish-bind.
	s2 := st.NewTCPSocket(IPv4)
	defer s2.Close()
	p.AllowListen(la.String())
	if err := s2.StartBind(st.Network(), la); err != nil {
		t.Fatal(err)
	}
	if err := s2.FinishBind(); err != AddressInUse {
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
	s := st.NewTCPSocket(IPv4)
	defer s.Close()
	if err := s.StartConnect(st.Network(), ap); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	if _, _, err := s.FinishConnect(); err != ConnectionRefused {
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
	if a, ok, err := r.Next(); err != nil || !ok || a != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("literal: %v %v %v", a, ok, err)
	}
	if _, ok, err := r.Next(); ok || err != nil {
		t.Fatal("literal stream not finished")
	}
	r, err = st.Resolve(st.Network(), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, r.done)
	n := 0
	for {
		a, ok, err := r.Next()
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
