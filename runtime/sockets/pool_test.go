package sockets

import (
	"net"
	"testing"
)

// TestPoolTake: a pool hands out units first come, first served up to
// its limit less its spare part, the spare part only to stacks holding
// fewer than the floor, and never passes its limit.
func TestPoolTake(t *testing.T) {
	p := NewPool(10, 4, 2)
	greedy, small, late := &share{pool: p}, &share{pool: p}, &share{pool: p}
	n := 0
	for greedy.take() {
		n++
	}
	if n != 6 {
		t.Fatalf("a greedy stack took %d, want 6 (the limit less the spare part)", n)
	}
	for range 2 {
		if !small.take() {
			t.Fatal("a stack under its floor was refused")
		}
	}
	if small.take() {
		t.Fatal("a stack at its floor took from the spare part")
	}
	if !late.take() || !late.take() || late.take() {
		t.Fatal("a second stack did not get exactly its floor")
	}
	if p.Used() != 10 {
		t.Fatalf("the pool counts %d, want 10", p.Used())
	}
	greedy.put()
	if late.take() {
		t.Fatal("a stack at its floor took a unit freed in the spare part")
	}
	newcomer := &share{pool: p}
	if !newcomer.take() || p.Used() != 10 {
		t.Fatalf("a stack under its floor did not take the unit freed: %d used", p.Used())
	}
	for _, s := range []*share{greedy, small, late, newcomer} {
		for s.held.Load() > 0 {
			s.put()
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
// dropped many times, give every unit back; a listener's connection
// accepted past the pool is refused with new-socket-limit and closed with
// the listener, uncounted.
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
	pool := NewPool(4, 0, 0)
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
		if pool.Used() != 4 || st.PoolSockets() != 4 || st.Sockets() != 5 {
			t.Fatalf("round %d: the pool counts %d (the stack %d), the stack %d sockets; want 4, 4, 5", i, pool.Used(), st.PoolSockets(), st.Sockets())
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
		if pool.Used() != 0 || st.Sockets() != 0 {
			t.Fatalf("round %d: after every drop the pool counts %d, the stack %d sockets", i, pool.Used(), st.Sockets())
		}
	}

	// A connection the accept goroutine takes with the pool full.
	full := NewPool(2, 0, 0)
	st2 := NewStack(&p)
	st2.SetSocketPool(full)
	ls := mustSocket(t, st2)
	listenLoopback(t, st2, ls)
	filler := mustSocket(t, st2)
	la, _ := ls.LocalAddress(bg)
	conn, err := net.Dial("tcp", FromWIT(la).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wait(t, ls)
	if _, err := ls.Accept(bg); err != NewSocketLimit {
		t.Fatalf("accept past the pool: %v, want new-socket-limit", err)
	}
	filler.Drop()
	tr, err := ls.Accept(bg)
	if err != nil {
		t.Fatalf("accept once the pool has room: %v", err)
	}
	tr.F0.Drop()
	tr.F1.Drop()
	tr.F2.Drop()
	ls.Drop()
	if full.Used() != 0 || st2.Sockets() != 0 {
		t.Fatalf("after every drop the pool counts %d, the stack %d sockets", full.Used(), st2.Sockets())
	}
}
