// Command giveup is a test guest, built with package guest/tls, for
// handshakes the guest or the host gives up on. A ticker goroutine runs
// beside the handshakes: a guest frozen by the host stops ticking.
//
//	giveup client ADDR TIMEOUT [hold]
//	    Dials ADDR (server name "localhost") with DialContext bounded by
//	    TIMEOUT, prints "dial: ERR after D", then "ticks: N" (ticks counted
//	    while the dial ran) and exits, or with hold keeps ticking until
//	    it is stopped.
//
//	giveup server ADDR TIMEOUT SERVE
//	    Listens on ADDR (first line "listening on ADDR") with the identity
//	    /certs/localhost.{key,pem}. Each connection runs on its own
//	    goroutine: HandshakeContext bounded by TIMEOUT (0: only the host's
//	    handshake timeout), then one line read and answered with
//	    "hello\n". Prints "handshake failed: ERR" or "served" per
//	    connection, and exits after SERVE connections were served,
//	    printing "ticks: N" and "failed: N".
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	wasitls "github.com/wasitls/wasitls/guest/tls"
)

var ticks atomic.Int64

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: giveup client ADDR TIMEOUT | server ADDR TIMEOUT SERVE")
		os.Exit(2)
	}
	timeout, err := time.ParseDuration(os.Args[3])
	if err != nil {
		fail(err)
	}
	go func() {
		for range time.Tick(10 * time.Millisecond) {
			ticks.Add(1)
		}
	}()
	switch os.Args[1] {
	case "client":
		client(os.Args[2], timeout)
		if len(os.Args) > 4 && os.Args[4] == "hold" {
			select {}
		}
	case "server":
		if len(os.Args) < 5 {
			fail(fmt.Errorf("server: missing SERVE"))
		}
		n, err := strconv.Atoi(os.Args[4])
		if err != nil {
			fail(err)
		}
		server(os.Args[2], timeout, n)
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

func client(addr string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	c, err := wasitls.DialContext(ctx, "tcp", addr, &wasitls.Config{ServerName: "localhost"})
	if err == nil {
		c.Close()
	}
	fmt.Printf("dial: %v after %v\n", err, time.Since(start).Round(time.Millisecond))
	fmt.Printf("ticks: %d\n", ticks.Load())
}

func server(addr string, timeout time.Duration, serve int) {
	key, err := os.ReadFile("/certs/localhost.key")
	if err != nil {
		fail(err)
	}
	chain, err := os.ReadFile("/certs/localhost.pem")
	if err != nil {
		fail(err)
	}
	id, err := wasitls.ParseIdentity(key, chain)
	if err != nil {
		fail(err)
	}
	ln, err := wasitls.Listen("tcp", addr, &wasitls.Config{Identities: []*wasitls.Identity{id}})
	if err != nil {
		fail(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	served := make(chan struct{})
	var failed atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				fail(err)
			}
			go func() {
				tc := c.(*wasitls.Conn)
				defer tc.Close()
				ctx := context.Background()
				if timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, timeout)
					defer cancel()
				}
				if err := tc.HandshakeContext(ctx); err != nil {
					failed.Add(1)
					fmt.Printf("handshake failed: %v\n", err)
					return
				}
				line, err := bufio.NewReader(tc).ReadString('\n')
				if err != nil {
					fmt.Printf("read failed: %v\n", err)
					return
				}
				fmt.Fprintf(tc, "hello %s", line)
				// Flush and send close_notify before main may exit.
				if err := tc.Close(); err != nil {
					fmt.Printf("close failed: %v\n", err)
				}
				fmt.Println("served")
				served <- struct{}{}
			}()
		}
	}()
	for range serve {
		<-served
	}
	fmt.Printf("ticks: %d\n", ticks.Load())
	fmt.Printf("failed: %d\n", failed.Load())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "giveup:", err)
	os.Exit(1)
}
