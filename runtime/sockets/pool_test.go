package sockets

import (
	"net"
	"testing"

	"github.com/wasitls/wasitls/bindings/wasi/io/streams"
	"github.com/wasitls/wasitls/bindings/wasi/sockets/tcp"
	"github.com/wasitls/wasitls/cabi"
)

// TestPoolTake: a pool hands out units first come, first served up to
// its limit less its spare part, the spare part only to stacks holding
// fewer than the floor, and never passes its limit.
func TestPoolTake(t *testing.T) {
	p := NewPool(10, 4, 2)
	greedy, small, late := &Share{pool: p}, &Share{pool: p}, &Share{pool: p}
	n := 0
	for greedy.Take() {
		n++
	}
	if n != 6 {
		t.Fatalf("a greedy stack took %d, want 6 (the limit less the spare part)", n)
	}
	for range 2 {
		if !small.Take() {
			t.Fatal("a stack under its floor was refused")
		}
	}
	if small.Take() {
		t.Fatal("a stack at its floor took from the spare part")
	}
	if !late.Take() || !late.Take() || late.Take() {
		t.Fatal("a second stack did not get exactly its floor")
	}
	if p.Used() != 10 {
		t.Fatalf("the pool counts %d, want 10", p.Used())
	}
	greedy.Put()
	if late.Take() {
		t.Fatal("a stack at its floor took a unit freed in the spare part")
	}
	newcomer := &Share{pool: p}
	if !newcomer.Take() || p.Used() != 10 {
		t.Fatalf("a stack under its floor did not take the unit freed: %d used", p.Used())
	}
	for _, s := range []*Share{greedy, small, late, newcomer} {
		for s.held.Load() > 0 {
			s.Put()
		}
	}
	if p.Used() != 0 {
		t.Fatalf("the pool counts %d after every put, want 0", p.Used())
	}
	if p := NewPool(0, 5, -1); p.Limit() != 1 || p.Spare() != 0 || p.Floor() != 0 {
		t.Fatalf("NewPool(0, 5, -1) = limit %d, spare %d, floor %d; want 1, 0, 0", p.Limit(), p.Spare(), p.Floor())
	}
}

// TestPoolReturns: a stack's listener, the connection it accepts, the
// client connecting to it, a UDP socket and a held socket (Stack.Hold,
// which holds no descriptor and takes nothing from the pool), opened and
// dropped many times, give every unit back. A listener holds a unit for
// its next connection besides its own, so that no connection its accept
// goroutine takes is outside the pool: with the pool spent it accepts
// nothing (the guest's accept fails with new-socket-limit, the client
// waiting in the kernel's backlog) until there is room.
func TestPoolReturns(t *testing.T) {
	var p Policy
	if err := p.AllowListen("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	if err := p.AllowConnect("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	if err := p.AllowUDP("127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	pool := NewPool(5, 0, 0)
	st := NewStack(&p)
	st.SetSocketPool(pool)
	for i := range 50 {
		ls := mustSocket(t, st)
		listenLoopback(t, st, ls)
		la, _ := ls.LocalAddress(bg)
		c := mustSocket(t, st)
		if err := c.StartConnect(bg, st.Network(), la); err != nil {
			t.Fatal(err)
		}
		wait(t, c)
		pair, err := c.FinishConnect(bg)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, ls)
		tr, err := ls.Accept(bg)
		if err != nil {
			t.Fatalf("round %d: accept: %v", i, err)
		}
		u := boundUDP(t, st)
		release, err := st.Hold()
		if err != nil {
			t.Fatal(err)
		}
		// The listener, its next connection's unit, the client, the
		// accepted connection, the UDP socket.
		waitFor(t, "the listener's unit for its next connection", func() bool { return pool.Used() == 5 })
		if st.PoolSockets() != 5 || st.Sockets() != 5 {
			t.Fatalf("round %d: the stack holds %d units, %d sockets; want 5, 5", i, st.PoolSockets(), st.Sockets())
		}
		if _, err := st.NewTCPSocket(IPv4); err != NewSocketLimit {
			t.Fatalf("round %d: a socket past the pool: %v, want new-socket-limit", i, err)
		}
		release()
		u.Drop()
		tr.F0.Drop()
		tr.F1.Drop()
		tr.F2.Drop()
		c.Drop()
		pair.F0.Drop()
		pair.F1.Drop()
		ls.Drop()
		waitFor(t, "every unit back", func() bool { return pool.Used() == 0 && st.Sockets() == 0 })
	}

	// Connections arriving with the pool spent: the first takes the
	// unit the accept goroutine held for it; the second waits in the
	// kernel's backlog, the host holding no descriptor for it, until a
	// unit is free.
	full := NewPool(3, 0, 0)
	st2 := NewStack(&p)
	st2.SetSocketPool(full)
	ls := mustSocket(t, st2)
	listenLoopback(t, st2, ls)
	filler := mustSocket(t, st2)
	waitFor(t, "the listener's unit for its next connection", func() bool { return full.Used() == 3 })
	la, _ := ls.LocalAddress(bg)
	var clients []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", FromWIT(la).String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		clients = append(clients, conn)
	}
	wait(t, ls)
	first, err := ls.Accept(bg)
	if err != nil {
		t.Fatalf("accept of the connection the listener held a unit for: %v", err)
	}
	var second cabi.Tuple3[tcp.TCPSocket, streams.InputStream, streams.OutputStream]
	for {
		wait(t, ls)
		second, err = ls.Accept(bg)
		if err == NewSocketLimit {
			break
		}
		if err != WouldBlock {
			t.Fatalf("accept past the pool: %v, want new-socket-limit", err)
		}
	}
	if full.Used() != 3 || st2.PoolSockets() != 3 {
		t.Fatalf("past the pool it counts %d (the stack %d), want 3", full.Used(), st2.PoolSockets())
	}
	filler.Drop()
	for {
		wait(t, ls)
		if second, err = ls.Accept(bg); err == nil {
			break
		}
		if err != WouldBlock && err != NewSocketLimit {
			t.Fatalf("accept once the pool has room: %v", err)
		}
	}
	for _, tr := range []cabi.Tuple3[tcp.TCPSocket, streams.InputStream, streams.OutputStream]{first, second} {
		tr.F0.Drop()
		tr.F1.Drop()
		tr.F2.Drop()
	}
	ls.Drop()
	waitFor(t, "every unit back", func() bool { return full.Used() == 0 && st2.Sockets() == 0 })
}
