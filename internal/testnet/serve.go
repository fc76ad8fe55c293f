package testnet

import (
	"net"
	"sync"
	"testing"
)

// Serve listens on 127.0.0.1, runs handle on its own goroutine for every
// connection it accepts (nil handle: the connection is held and never
// read), and closes the listener and every connection when the test ends.
// It returns the listener's address. Silent peers, which the host must not
// wait for without bound, are Serve with a handle that never writes.
func Serve(t testing.TB, handle func(net.Conn)) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ServeListener(t, ln, handle)
	return ln.Addr().(*net.TCPAddr)
}

// ServeListener is Serve on a listener of the caller's (a TLS one, one on
// a given port): it accepts on ln until the test ends, then closes ln and
// every connection it accepted.
func ServeListener(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if handle != nil {
				go handle(c)
			}
		}
	}()
}
