// Package testnet holds network helpers shared by the tests of several
// packages.
package testnet

import (
	"net"
	"testing"
	"time"
)

// TCPPair returns the two ends of a loopback TCP connection, both closed
// at the end of the test.
func TCPPair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		c.Close()
		t.Fatal(a.err)
	}
	client, server = c.(*net.TCPConn), a.c.(*net.TCPConn)
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

// TCPPairWithin is TCPPair with a deadline d from now on both ends, so
// that nothing a test does on them waits past it.
func TCPPairWithin(t testing.TB, d time.Duration) (client, server *net.TCPConn) {
	t.Helper()
	client, server = TCPPair(t)
	deadline := time.Now().Add(d)
	client.SetDeadline(deadline)
	server.SetDeadline(deadline)
	return client, server
}
